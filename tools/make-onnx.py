#!/usr/bin/python3
"""make-onnx.py - ONNX exports of torchvision ResNets to test `resnet import` with
(tests/test_onnx.c, tests/test_onnx.sh).

    tools/make-onnx.py --small tests/data/onnx     # the tiny models committed for tier 1
    tools/make-onnx.py --check build/resnet DIR    # tier 2: export, import, compare logits

--small writes narrow networks (torchvision's own _make_layer, small widths) as
torch.onnx.export writes them, and beside each the safetensors file the import must produce,
made here independently of our C code: for a graph with its batch norms kept, torchvision's
state_dict itself; for one where the export folded them into the convolutions, the folded
conv weights read from the ONNX initializers with an identity batch norm (weight 1, bias =
the conv's bias, running mean 0, running var 1 - eps).

--check exports resnet18, resnet50 (10 classes) and others with random weights and
randomised batch-norm statistics, in several opsets, folded and not, inline and with external
data, a ResNet v1 (strides in the first 1x1), and a head written as ReduceMean + Reshape +
MatMul + Add (--full adds resnet34, 101, 152, wide_resnet50_2, resnext101_32x8d); imports each with the given
resnet binary; loads the result back into the torchvision model with torch and checks that its
logits on a random input are within 1e-4 (relative to the largest) of the original's; and runs
our engine on the file (python/resnet over build/libresnet.so) on the demo photos, within 1e-4
of PyTorch on the same preprocessed input. Needs
Debian's python3-torch, python3-torchvision and python3-onnx.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save_safetensors(tensors, path, metadata=None):
    """name -> float32 numpy array, in order; the format written by hand."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, a in tensors.items():
        data = np.ascontiguousarray(a, dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for name, h in header.items():
        assert h['dtype'] == 'F32', name
        b, e = h['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype='<f4').copy()).reshape(h['shape'])
    return out, meta


class Narrow(torch.nn.Module):
    """torchvision's ResNet with any widths: its module names, _make_layer and forward."""

    def __init__(self, block, layers, planes, stem, classes, groups=1, base_width=64, dilate=(False,) * 3):
        super().__init__()
        self.inplanes, self.dilation, self.groups, self.base_width = stem, 1, groups, base_width
        self._norm_layer = torch.nn.BatchNorm2d
        self.conv1 = torch.nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(stem)
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
        for i in range(4):
            setattr(self, 'layer%d' % (i + 1),
                    self._make_layer(block, planes[i], layers[i], 1 if i == 0 else 2, i > 0 and dilate[i - 1]))
        self.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(planes[3] * block.expansion, classes)

    _make_layer = torchvision.models.resnet.ResNet._make_layer
    forward = torchvision.models.resnet.ResNet._forward_impl


class MeanHead(torch.nn.Module):
    """The same network with its head written as mean + reshape + matmul + add."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        x = torch.mean(x, (2, 3), keepdim=True).reshape(1, -1)
        return torch.matmul(x, n.fc.weight.t()) + n.fc.bias


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                k = m.num_features
                m.weight.copy_(0.5 + torch.rand(k, generator=g))
                m.bias.copy_(0.1 * torch.randn(k, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(k, generator=g))
                m.running_var.copy_(0.5 + torch.rand(k, generator=g))
        fc = model.fc
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=g) / fc.weight.shape[1] ** 0.5)
        fc.bias.copy_(0.1 * torch.randn(fc.bias.shape, generator=g))
    return model.eval()


def export(model, path, opset, fold, size=64, external=False, **kw):
    """fold: the exporter's eval mode (batch norms folded into the convs); else kept."""
    x = torch.randn(1, 3, size, size)
    mode = torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, x, path, opset_version=opset, training=mode, do_constant_folding=True,
                      input_names=['input'], output_names=['logits'], **kw)
    if external:
        m = onnx.load(path)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + '.data', size_threshold=0)


def small(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    models = [
        # bottleneck, 2 groups, one block a stage; exported the default way (BN folded), opset 17;
        # layer4's batch norms untrained, so the graph has Identity nodes
        ('tiny_bottleneck', lambda: Narrow(Bottleneck, [1, 1, 1, 1], [4, 8, 16, 32], 8, 10, groups=2), 17, True),
        # basic blocks, two in the first stage, batch norms kept, opset 11
        ('tiny_basic', lambda: Narrow(BasicBlock, [2, 1, 1, 1], [8, 8, 16, 16], 8, 5), 11, False),
    ]
    for i, (name, build, opset, fold) in enumerate(models):
        torch.manual_seed(10 + i)
        net = randomise(build(), 10 + i)
        if fold:  # layer4's batch norms left untrained: equal zero biases, written once + Identity
            for m in net.layer4.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.reset_parameters()
        path = os.path.join(out_dir, name + '.onnx')
        export(net, path, opset, fold, size=32)
        if fold:
            expected = folded_state_dict(net, path)
        else:
            expected = {k: v.numpy() for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')}
        save_safetensors(expected, os.path.join(out_dir, name + '.expected.safetensors'))
        print('%s: %d bytes of ONNX' % (path, os.path.getsize(path)), file=sys.stderr)


def folded_state_dict(net, path, eps=np.float32(1e-5)):
    """Folded export: each Conv's weight and bias in graph order, named after the state_dict's
    conv weights in order (the export keeps torchvision's module order)."""
    g = onnx.load(path).graph
    init = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:  # the exporter's Identity of a shared initializer
        if n.op_type == 'Identity' and n.input[0] in init:
            init[n.output[0]] = init[n.input[0]]
    convs = [n for n in g.node if n.op_type == 'Conv']
    names = [k[:-len('.weight')] for k, v in net.state_dict().items() if k.endswith('.weight') and v.dim() == 4]
    # the graph lists a block's downsample before or after its main path: match by shape, in order
    out = {}
    remaining = list(convs)
    for name in names:
        shape = tuple(net.state_dict()[name + '.weight'].shape)
        node = next(n for n in remaining if init[n.input[1]].shape == shape and conv_matches(n, name, net))
        remaining.remove(node)
        w, b = init[node.input[1]], init[node.input[2]]
        bn = name.replace('conv', 'bn') if 'downsample' not in name else name[:-1] + '1'
        out[name + '.weight'] = w
        out[bn + '.weight'] = np.ones_like(b)
        out[bn + '.bias'] = b
        out[bn + '.running_mean'] = np.zeros_like(b)
        out[bn + '.running_var'] = np.full_like(b, np.float32(1) - eps)
    out['fc.weight'] = init[[n for n in g.node if n.op_type == 'Gemm'][0].input[1]]
    out['fc.bias'] = init[[n for n in g.node if n.op_type == 'Gemm'][0].input[2]]
    return out


def conv_matches(node, name, net):
    """The exporter names folded weights after the module ('onnx::Conv_123' in some versions):
    match a node by its stride too, and rely on the graph's order otherwise."""
    mod = net.get_submodule(name)
    strides = [a.ints for a in node.attribute if a.name == 'strides']
    return not strides or list(strides[0]) == list(mod.stride)


def to_v1(net):
    """The stride of each bottleneck moved from its 3x3 to its first 1x1 (ResNet v1)."""
    for m in net.modules():
        if isinstance(m, Bottleneck) and m.conv2.stride != (1, 1):
            m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
    return net


def check(resnet, out_dir, full=False):
    os.makedirs(out_dir, exist_ok=True)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    cases = [
        # name, constructor, opset, folded, external data, head as mean + matmul
        ('resnet18', lambda: torchvision.models.resnet18(num_classes=10), 11, True, False, False),
        ('resnet18', lambda: torchvision.models.resnet18(num_classes=10), 17, False, True, False),
        ('resnet50', lambda: torchvision.models.resnet50(num_classes=10), 17, True, False, False),
        ('resnet50', lambda: torchvision.models.resnet50(num_classes=10), 13, False, False, False),
        ('resnet50-dilated', lambda: torchvision.models.resnet50(num_classes=10, replace_stride_with_dilation=[False, True, True]),
         14, True, True, False),
        ('resnext50_32x4d', lambda: torchvision.models.resnext50_32x4d(num_classes=10), 12, True, False, False),
        ('narrow-meanhead', lambda: Narrow(Bottleneck, [2, 1, 1, 1], [32, 32, 64, 64], 32, 7), 15, False, False, True),
        ('narrow-v1', lambda: to_v1(Narrow(Bottleneck, [1, 2, 1, 1], [32, 32, 64, 64], 32, 10)), 16, True, False, False),
    ]
    if full:
        cases += [(n, lambda n=n: getattr(torchvision.models, n)(num_classes=10), 17, True, False, False)
                  for n in ('resnet34', 'resnet101', 'resnet152', 'wide_resnet50_2', 'resnext101_32x8d')]
    # torchvision's initial batch norms (weight 1, bias 0): the folded biases are all zero, and
    # the exporter writes one initializer for them and an Identity node for each other use
    cases.insert(1, ('resnet18-init', lambda: torchvision.models.resnet18(num_classes=10), 17, True, False, False))
    # initializers listed as graph inputs too (older exports), and a dynamic batch dimension
    cases.insert(2, ('resnet18-inputs', lambda: torchvision.models.resnet18(num_classes=10), 11, False, False, False))
    failed = 0
    for i, (name, build, opset, fold, ext, mean_head) in enumerate(cases):
        torch.manual_seed(i)
        net = build().eval() if name.endswith('-init') else randomise(build(), i)
        tag = '%s-op%d-%s%s%s' % (name, opset, 'folded' if fold else 'bn', '-external' if ext else '',
                                  '-meanhead' if mean_head else '')
        path = os.path.join(out_dir, tag + '.onnx')
        out = os.path.join(out_dir, tag + '.safetensors')
        kw = {'keep_initializers_as_inputs': True, 'dynamic_axes': {'input': {0: 'n'}, 'logits': {0: 'n'}}} \
            if name.endswith('-inputs') else {}
        export(MeanHead(net) if mean_head else net, path, opset, fold, size=224, external=ext, **kw)
        ops = sorted({n.op_type for n in onnx.load(path, load_external_data=False).graph.node})
        r = subprocess.run([resnet, 'import', path, '-o', out], capture_output=True, text=True)
        if r.returncode != 0:
            print('FAIL %s: import: %s' % (tag, r.stderr.strip()))
            failed += 1
            continue
        sd, meta = load_safetensors(out)
        fresh = build()
        missing = fresh.load_state_dict(sd, strict=False)
        if [k for k in missing.missing_keys if not k.endswith('num_batches_tracked')] or missing.unexpected_keys:
            print('FAIL %s: state_dict names: %s' % (tag, missing))
            failed += 1
            continue
        for m in fresh.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eps = float(meta['bn_eps'])
        fresh.eval()
        with torch.no_grad():
            want, got = net(x), fresh(x)
        rel = float((want - got).abs().max() / want.abs().max())
        variant = 'v1' if name.endswith('-v1') else 'v1.5'
        ok = rel <= 1e-4 and meta.get('variant') == variant and meta.get('normalization') == 'torch'
        engine = engine_rel(out, net, int(meta.get('output_stride', 32)))
        ok = ok and (not isinstance(engine, float) or engine <= 1e-4)
        print('%s %s: ops %s, logits max |diff| / max |logit| = %.2e (torchvision with the imported file), %s '
              '(our engine on the demo photos), metadata %s' %
              ('ok  ' if ok else 'FAIL', tag, ','.join(ops), rel, '%.2e' % engine if isinstance(engine, float) else engine or 'not run',
               {k: v for k, v in meta.items() if k != 'labels'}))
        failed += not ok
        for f in (path, path + '.data', out):
            if os.path.exists(f):
                os.remove(f)
    return failed + check_backbone(resnet, out_dir) + check_sigmoid(resnet, out_dir) + check_pth(out_dir)


def check_backbone(resnet, out_dir):
    """A backbone's graph (the fc an Identity, so the features are the output) imports as a
    network without an fc: our engine's features against PyTorch's on a demo photo."""
    torch.manual_seed(3)
    net = randomise(torchvision.models.resnet18(num_classes=10), 3)
    net.fc = torch.nn.Identity()
    net.eval()
    path, out = os.path.join(out_dir, 'backbone.onnx'), os.path.join(out_dir, 'backbone.safetensors')
    export(net, path, 17, True, size=224)
    r = subprocess.run([resnet, 'import', path, '-o', out], capture_output=True, text=True)
    ok, why = r.returncode == 0, r.stderr.strip()
    if ok:
        sd, _ = load_safetensors(out)
        ok = not any(k.startswith('fc.') for k in sd)
        why = 'fc tensors written' if not ok else why
    if ok:
        try:
            sys.path.insert(0, os.path.join(ROOT, 'python'))
            import resnet as engine
            with engine.Model(out) as m:
                photo = os.path.join(ROOT, 'demo/chelsea.png')
                ours = m.embed(photo)
                with torch.no_grad():
                    want = net(torch.from_numpy(m.preprocess(photo)))[0].numpy()
            rel = float(abs(ours - want).max() / abs(want).max())
            ok, why = rel <= 1e-4 and m.classes == 0, 'features max |diff| / max = %.2e' % rel
        except ImportError:
            why = 'imported; our engine not run (no binding)'
    print('%s backbone (fc an Identity): imported without an fc: %s' % ('ok  ' if ok else 'FAIL', why))
    for f in (path, out):
        if os.path.exists(f):
            os.remove(f)
    return not ok


def check_sigmoid(resnet, out_dir):
    """A binary classifier exported with its Sigmoid (fc of one output, then torch.sigmoid):
    imported with the Sigmoid left out, for the engine reads one output through a sigmoid;
    `resnet classify --json` gives PyTorch's probability. After an fc of 3 outputs (multi-label)
    it is refused in one line, since the engine would take their softmax."""
    failed = 0
    for classes in (1, 3):
        torch.manual_seed(4)
        net = torch.nn.Sequential(randomise(torchvision.models.resnet18(num_classes=classes), 4), torch.nn.Sigmoid()).eval()
        path, out = os.path.join(out_dir, 'sigmoid%d.onnx' % classes), os.path.join(out_dir, 'sigmoid%d.safetensors' % classes)
        export(net, path, 17, True, size=224)
        r = subprocess.run([resnet, 'import', path, '-o', out], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        if classes == 3:
            ok = r.returncode == 1 and len(lines) == 1 and 'Sigmoid' in lines[0] and '3 outputs' in lines[0] and \
                not os.path.exists(out)
            why = lines[-1] if lines else 'rc %d, nothing said' % r.returncode
        else:
            ok = r.returncode == 0 and len(lines) == 1 and 'Sigmoid after the fc left out' in lines[0]
            why = lines[-1] if lines else 'rc %d, nothing said' % r.returncode
            if ok:
                photo = os.path.join(ROOT, 'demo/chelsea.png')
                c = subprocess.run([resnet, 'classify', '--weights', out, '--json', photo], capture_output=True, text=True)
                try:
                    ours = json.loads(c.stdout)['top'][0]['prob']
                    sys.path.insert(0, os.path.join(ROOT, 'python'))
                    import resnet as engine
                    with engine.Model(out) as m:
                        with torch.no_grad():
                            want = float(net(torch.from_numpy(m.preprocess(photo)))[0, 0])
                    ok = abs(ours - want) <= 1e-5
                    why = 'probability %.6f, PyTorch\'s sigmoid %.6f' % (ours, want)
                except ImportError:
                    why = 'imported; not compared with PyTorch (no binding)'
                except (ValueError, KeyError, IndexError):
                    ok, why = False, 'classify: rc %d %s' % (c.returncode, c.stderr.strip()[-200:])
        print('%s Sigmoid after an fc of %d output%s: %s: %s' % ('ok  ' if ok else 'FAIL', classes, 's' if classes > 1 else '',
                                                              'imported' if classes == 1 else 'refused', why))
        failed += not ok
        for f in (path, out):
            if os.path.exists(f):
                os.remove(f)
    return failed


def engine_rel(weights, net, output_stride=32):
    """Our engine (the Python binding over build/libresnet.so) on the imported file against
    PyTorch on what our preprocessing gives, demo photos; None where the binding is not there. A
    dilated network is loaded with no output stride given: the engine must take the one the
    import recorded (it dilates at load), or its logits are another network's."""
    try:
        sys.path.insert(0, os.path.join(ROOT, 'python'))
        import resnet as engine
    except ImportError:
        return None
    worst = 0.0
    try:
        m = engine.Model(weights)
    except Exception as e:  # widths the engine's kernels do not take (the narrow test networks)
        return 'not run: %s' % str(e).split(': ')[-1]
    with m:
        if m.info()['output_stride'] != output_stride:
            print('our engine loaded %s at output stride %d; the import recorded %d' %
                  (weights, m.info()['output_stride'], output_stride))
            return float('inf')
        for photo in ('demo/chelsea.png', 'demo/coffee.png'):
            path = os.path.join(ROOT, photo)
            x = torch.from_numpy(m.preprocess(path))
            ours = torch.from_numpy(m.logits(path))
            with torch.no_grad():
                want = net(x)
            worst = max(worst, float((ours - want).abs().max() / want.abs().max()))
    return worst


def check_pth(out_dir):
    """tools/pth-to-safetensors.py on a state_dict, a training checkpoint and a whole model."""
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pth-to-safetensors.py')
    net = randomise(torchvision.models.resnet18(num_classes=3), 5)
    want = net.state_dict()
    labels = os.path.join(out_dir, 'names.txt')
    with open(labels, 'w') as f:
        f.write('tabby "cat"\nsamoyed\nk\u00e4se\n')

    def convert(kind, obj, *args):
        """obj saved as KIND.pth, through the tool to KIND.safetensors: (the run, that path)."""
        pth, out = os.path.join(out_dir, kind + '.pth'), os.path.join(out_dir, kind + '.safetensors')
        torch.save(obj, pth)
        return subprocess.run([sys.executable, tool, pth, out] + list(args), capture_output=True, text=True), out

    def same(out, sd):
        """The file holds exactly sd's tensors, in its order."""
        got, _ = load_safetensors_any(out)
        return list(got) == list(sd) and all(torch.equal(got[k], sd[k].to(got[k].dtype)) for k in sd)

    def one_line(r, word, out):
        """Refused: exit 1, one line naming word, nothing written."""
        lines = r.stderr.strip().splitlines()
        return r.returncode == 1 and len(lines) == 1 and word in lines[0] and not os.path.exists(out)

    def report(ok, what, r):
        print('%s pth-to-safetensors%s%s' % ('ok  ' if ok else 'FAIL', what, '' if ok else
                                             ': rc %d %s' % (r.returncode, r.stderr.strip()[-300:])))
        return 0 if ok else 1

    failed = 0
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for kind, obj in (('state_dict', want), ('checkpoint', {'epoch': 1, 'state_dict': want}), ('model', net),
                      # PyTorch's tutorial checkpoint, and one under a name of the script's own
                      ('tutorial', {'epoch': 1, 'model_state_dict': want, 'optimizer_state_dict': opt.state_dict(), 'loss': 0.5}),
                      ('own-key', {'epoch': 1, 'weights_resnet': want, 'best_acc': 0.9})):
        r, out = convert(kind, obj, '--labels', labels)
        ok = r.returncode == 0 and same(out, want) and \
            json.loads(load_safetensors_any(out)[1].get('labels', '[]')) == ['tabby "cat"', 'samoyed', 'k\u00e4se']
        failed += report(ok, ' (%s)' % kind, r)
    # names as Notepad saves them (a byte-order mark: not part of name 0), and with a NUL
    # byte (refused, one line: written, no loader would read the file)
    bom = os.path.join(out_dir, 'bom.txt')
    with open(bom, 'wb') as f:
        f.write(b'\xef\xbb\xbftabby\r\nsamoyed\r\ncheese\r\n')
    r, out = convert('bom', want, '--labels', bom)
    ok = r.returncode == 0 and json.loads(load_safetensors_any(out)[1].get('labels', '[]')) == ['tabby', 'samoyed', 'cheese']
    failed += report(ok, ': --labels with a byte-order mark', r)
    with open(bom, 'wb') as f:
        f.write(b'tabby\nsam\0oyed\ncheese\n')
    r, out = convert('nul', want, '--labels', bom)
    failed += report(one_line(r, 'line 2 holds a NUL byte', out), ': --labels with a NUL byte', r)
    # a DataParallel key and the same key unprefixed: refused, not one dropped for the other
    r, out = convert('both', dict(want, **{'module.fc.weight': torch.zeros_like(want['fc.weight'])}))
    failed += report(one_line(r, 'module.fc.weight', out), ' refuses module.fc.weight beside fc.weight', r)
    # a Lightning checkpoint: the network under the module's attribute ('model.'), stripped
    # (it loads as nothing otherwise); with another entry beside it, one line naming --prefix
    r, out = convert('lightning', {'epoch': 3, 'state_dict': {'model.' + k: v for k, v in want.items()}})
    failed += report(r.returncode == 0 and same(out, want), ' (lightning)', r)
    sd = dict({'net.' + k: v for k, v in want.items()}, **{'loss.weight': torch.ones(3)})
    r, out = convert('lightning+loss', {'epoch': 3, 'state_dict': sd})
    failed += report(one_line(r, '--prefix net.', out), ' (lightning+loss)', r)
    # a whole model whose batch norms have another epsilon (a port from TensorFlow: 1e-3): the
    # state_dict does not hold it, the model does, and the file must say it
    eps_net = torchvision.models.resnet18(num_classes=3)
    for m in eps_net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3
    r, out = convert('eps', eps_net)
    ok = r.returncode == 0 and float(load_safetensors_any(out)[1].get('bn_eps', 0)) == 1e-3
    failed += report(ok, ': a whole model\'s batch-norm epsilon (1e-3) in the metadata', r)
    # a whole ResNet v1 (its bottlenecks stride in the first 1x1): the variant in the metadata
    r, out = convert('v1', to_v1(torchvision.models.resnet.ResNet(Bottleneck, [1, 1, 1, 1], num_classes=3)))
    ok = r.returncode == 0 and load_safetensors_any(out)[1].get('variant') == 'v1'
    failed += report(ok, ': a whole ResNet v1 recorded as v1', r)
    # a whole dilated model (replace_stride_with_dilation): its strides are not in its tensors;
    # the file records the output stride they give, as `resnet import` does
    r, out = convert('dilated', torchvision.models.resnet50(num_classes=3, replace_stride_with_dilation=[False, True, True]))
    ok = r.returncode == 0 and load_safetensors_any(out)[1].get('output_stride') == '8'
    failed += report(ok, ': a whole dilated ResNet-50 recorded at output stride 8', r)
    # a whole model that is not what its tensors say (a CIFAR stem without its max pool, a
    # stem that does not stride, another activation, a Sigmoid after an fc of 3 outputs): each would run
    # as torchvision's ResNet, wrongly; refused, one line naming the module
    for what, change, word in (
            ('the max pool taken out', lambda n: setattr(n, 'maxpool', torch.nn.Identity()), "'maxpool' is Identity"),
            ('a stem of stride 1', lambda n: setattr(n.conv1, 'stride', (1, 1)), "'conv1' is Conv2d(kernel 7x7, stride 1x1"),
            ('a LeakyReLU in a block', lambda n: setattr(n.layer2[0], 'relu', torch.nn.LeakyReLU()),
             "'layer2.0.relu' is LeakyReLU"),
            ('a Sigmoid after an fc of 3 outputs', lambda n: setattr(n, 'fc', torch.nn.Sequential(n.fc, torch.nn.Sigmoid())),
             "'fc.1' is a Sigmoid"),
            ('stage 3 not strided', lambda n: [setattr(n.layer3[0].conv1, 'stride', (1, 1)),
                                               setattr(n.layer3[0].downsample[0], 'stride', (1, 1))],
             "stage 3 ('layer3')")):
        odd = torchvision.models.resnet18(num_classes=3)
        change(odd)
        r, out = convert('odd', odd)
        failed += report(one_line(r, word, out), ': a whole model with %s refused, one line' % what, r)
    # a whole binary classifier, fc = Sequential(Linear(512, 1), Sigmoid): the Sigmoid is what
    # the engine computes for one output, so it converts, its Linear written as the fc
    binary = randomise(torchvision.models.resnet18(num_classes=1), 6)
    binary.fc = torch.nn.Sequential(binary.fc, torch.nn.Sigmoid())
    r, out = convert('binary', binary)
    want1 = {k.replace('fc.0.', 'fc.'): v for k, v in binary.state_dict().items()}
    failed += report(r.returncode == 0 and same(out, want1) and 'left out' in r.stderr,
                     ': a whole model with fc = Sequential(Linear(512, 1), Sigmoid) converted, the Sigmoid left out', r)
    # --prefix naming DataParallel's 'module.' (the keys as the user sees them): the same network
    r, out = convert('dp', {'module.' + k: v for k, v in want.items()}, '--prefix', 'module.')
    failed += report(r.returncode == 0 and same(out, want), ' --prefix module. on a DataParallel checkpoint', r)
    # a fine-tuned head, fc = Sequential(Dropout, Linear): its Linear ('fc.1.*') is the fc
    seq = torchvision.models.resnet18(num_classes=3)
    seq.fc = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(512, 3))
    seq.load_state_dict({k.replace('fc.', 'fc.1.'): v for k, v in want.items()})
    r, out = convert('seqfc', seq.state_dict())
    failed += report(r.returncode == 0 and same(out, want),
                     ': fc a Sequential(Dropout, Linear), its fc.1.* written as fc.*', r)
    # a detection model's checkpoint: --prefix takes its ResNet body out (a backbone, no fc)
    det = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    r, out = convert('det', {'model': det.state_dict()}, '--prefix', 'backbone.body.')
    failed += report(r.returncode == 0 and same(out, det.backbone.body.state_dict()),
                     ' --prefix backbone.body.: the detection model\'s body alone', r)
    r = subprocess.run([sys.executable, tool, os.path.join(out_dir, 'det.pth'), out + '2', '--prefix', 'nothing.'],
                       capture_output=True, text=True)
    failed += report(one_line(r, "'nothing.'", out + '2'), ' --prefix matching no key: one line', r)
    # inputs and outputs it cannot use: one line naming each, exit 1, nothing written
    pth = os.path.join(out_dir, 'state_dict.pth')
    latin1 = os.path.join(out_dir, 'latin1.txt')
    with open(latin1, 'wb') as f:
        f.write(b'k\xe4se\nsamoyed\ntabby\n')
    out = os.path.join(out_dir, 'never.safetensors')
    for what, o, args, word in (
            ('a --labels file that is not there', out, ['--labels', out_dir + '/none.txt'], 'none.txt'),
            ('a --labels file that is not UTF-8', out, ['--labels', latin1], 'latin1.txt'),
            ('an output that is a folder', out_dir, [], out_dir),
            ('an output in a folder that is not there', out_dir + '/none/x.safetensors', [], 'none/x.safetensors')):
        r = subprocess.run([sys.executable, tool, pth, o] + args, capture_output=True, text=True)
        failed += report(one_line(r, word, out), ': %s, one line' % what, r)
    return failed


def load_safetensors_any(path):
    """F32 and I64 tensors, by name in file order."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for name, h in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        b, e = h['data_offsets']
        dt = {'F32': '<f4', 'I64': '<i8'}[h['dtype']]
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype=dt).copy()).reshape(h['shape'])
    return out, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--small', metavar='DIR')
    ap.add_argument('--check', nargs=2, metavar=('RESNET', 'DIR'))
    ap.add_argument('--full', action='store_true', help='--check every depth too (resnet34 to 152, wide, ResNeXt 101)')
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.small:
        small(args.small)
    elif args.check:
        sys.exit(1 if check(*args.check, full=args.full) else 0)
    else:
        ap.error('give --small DIR or --check RESNET DIR')


if __name__ == '__main__':
    main()
