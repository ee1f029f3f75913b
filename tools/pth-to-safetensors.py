#!/usr/bin/python3
"""pth-to-safetensors.py - a PyTorch checkpoint (.pth / .pt) -> a safetensors weight file.

    tools/pth-to-safetensors.py CHECKPOINT.pth OUT.safetensors [--labels names.txt]
                                 [--norm torch|caffe] [--variant v1.5|v1] [--prefix P] [--force]

The checkpoint may be a state_dict, a dict holding one (what training scripts save: under
'state_dict', 'model_state_dict', 'model', 'net', 'network', or the one entry that is a state_dict
or a model), or a whole pickled model (its .state_dict() is taken). Keys with the
'module.' prefix DataParallel adds are stripped (a key there both with and without it is
refused), and so is a prefix every key shares before the network's names (a Lightning
module's 'model.' or 'net.'; with other entries beside them, --prefix says which to keep).
Tensors are written in the checkpoint's order: floating point ones as F32, integer ones
(num_batches_tracked) as I64, which `resnet` ignores. An fc written as nn.Sequential(nn.Dropout(),
nn.Linear(...)) (its one Linear saved as 'fc.1.weight') is renamed to 'fc.weight'.
--prefix P keeps only the keys that start with P, P taken off: the ResNet inside a bigger model,
e.g. `--prefix backbone.body.` for torchvision's detection models (a backbone: no fc).
The metadata is torchvision's preprocessing (normalization torch, variant v1.5, bn_eps 1e-5:
a whole model's batch norms' own epsilon and its variant, which a state_dict does not hold)
unless told otherwise, and the labels (one name a line) as a JSON array when given; a whole
dilated model's output stride (16 or 8). A whole model is also compared with torchvision's
ResNet module by module (strides, paddings, dilations, pools, activations, which its tensors
do not show): a stem without its max pool, another activation, a Sigmoid after an fc of
several outputs is refused in one line naming the module (a state_dict holds none of this: it
is taken as torchvision's). A Sigmoid after an fc of one output, nn.Sequential(nn.Linear(C, 1),
nn.Sigmoid()), is left out: the engine reads one output through a sigmoid anyway.

Needs only torch (Debian's python3-torch): the safetensors format is written here by hand, an
8-byte little-endian header length, the JSON header, then the data. A whole pickled model needs
the classes it was made of importable (torchvision's are when python3-torchvision is installed).
The output is written to a temporary beside it and renamed into place; an existing file that is
not safetensors is refused unless --force.
"""
import argparse
import json
import os
import struct
import sys

import torch


def fail(msg):
    print('pth-to-safetensors: ' + msg, file=sys.stderr)
    sys.exit(1)


# the layers a torchvision ResNet is made of; any other (a LeakyReLU, a Sigmoid after an fc of
# several outputs, an AvgPool2d) computes something the engine does not, with no tensor to say so
PLAIN_LAYERS = ('Conv2d', 'BatchNorm2d', 'FrozenBatchNorm2d', 'ReLU', 'MaxPool2d', 'AdaptiveAvgPool2d', 'Linear',
                'Dropout', 'Identity', 'Flatten')


def conv_form(m):
    """What a convolution or pool computes besides its tensors, comparable across int and tuple forms."""
    pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if isinstance(m, torch.nn.Conv2d):
        return ('Conv2d', pair(m.kernel_size), pair(m.stride), pair(m.padding), pair(m.dilation), m.groups,
                m.padding_mode)
    if isinstance(m, torch.nn.MaxPool2d):
        return ('MaxPool2d', pair(m.kernel_size), pair(m.stride), pair(m.padding), pair(m.dilation), m.ceil_mode)
    if isinstance(m, torch.nn.AdaptiveAvgPool2d):
        return ('AdaptiveAvgPool2d', pair(m.output_size))
    return (type(m).__name__,)


def describe(form):
    if form[0] == 'Conv2d':
        return 'Conv2d(kernel %s, stride %s, padding %s, dilation %s, groups %d)' % tuple(
            'x'.join(map(str, v)) if isinstance(v, tuple) else v for v in form[1:6])
    if form[0] == 'MaxPool2d':
        return 'MaxPool2d(kernel %s, stride %s, padding %s, dilation %s%s)' % tuple(
            ['x'.join(map(str, v)) for v in form[1:5]] + [', ceil_mode' if form[5] else ''])
    if form[0] == 'AdaptiveAvgPool2d':
        return 'AdaptiveAvgPool2d(%s)' % 'x'.join(map(str, form[1]))
    return form[0]


def sigmoid_head(r):
    """fc = nn.Sequential(..., nn.Linear(C, n), nn.Sigmoid()), one Linear, the Sigmoid last:
    (n, the Sigmoid's module name); (0, None) for any other fc. With n = 1 the engine computes
    that Sigmoid (one output's probability is the sigmoid of its logit), so it is left out."""
    fc = getattr(r, 'fc', None)
    if not isinstance(fc, torch.nn.Sequential) or len(fc) < 2 or not isinstance(fc[-1], torch.nn.Sigmoid):
        return 0, None
    linear = [m for m in fc[:-1] if isinstance(m, torch.nn.Linear)]
    if len(linear) != 1 or not all(isinstance(m, (torch.nn.Linear, torch.nn.Dropout, torch.nn.Identity)) for m in fc[:-1]):
        return 0, None
    return linear[0].out_features, 'fc.%d' % (len(fc) - 1)


def check_model(model, path):
    """A whole model holds what its state_dict does not: strides, paddings, dilations, pools,
    activations. Each ResNet in it is compared with the torchvision ResNet its tensors describe
    (block kind, blocks per stage, groups, the variant and dilation its strides show), module by
    module; a difference the engine would not compute is refused in one line. Returns the output
    stride its dilated stages give (32 when none is)."""
    mods = dict(model.named_modules())
    roots = [n for n, m in mods.items() if all(hasattr(m, 'layer%d' % i) for i in range(1, 5)) and hasattr(m, 'conv1')]
    strides = {}
    if not roots:
        return 32
    try:
        import torchvision
    except ImportError:
        fail('%s: a whole model is checked against torchvision\'s ResNet: install python3-torchvision, or save '
             'its state_dict' % path)
    for root in roots:
        p = root + '.' if root else ''
        r = mods[root]
        bottleneck = hasattr(r.layer1[0], 'conv3')
        block = torchvision.models.resnet.Bottleneck if bottleneck else torchvision.models.resnet.BasicBlock
        # a stage that does not stride is dilated (torchvision's replace_stride_with_dilation)
        dilate = [all(tuple(getattr(c, 'stride', (1, 1))) == (1, 1) for c in getattr(r, 'layer%d' % s)[0].modules()
                      if isinstance(c, torch.nn.Conv2d)) for s in (2, 3, 4)]
        if any(dilate) and (not bottleneck or dilate not in ([False, False, True], [False, True, True])):
            first = 2 + dilate.index(True)
            fail("%s: stage %d ('%slayer%d') of the model does not stride: the engine dilates only a bottleneck "
                 "network's layer4 (output stride 16) or layer3 and layer4 (8)" % (path, first, p, first))
        groups = r.layer1[0].conv2.groups if bottleneck else 1
        width = r.layer1[0].conv2.out_channels // groups if bottleneck else 64
        ref = torchvision.models.resnet.ResNet(block, [len(getattr(r, 'layer%d' % s)) for s in range(1, 5)],
                                               groups=groups, width_per_group=max(1, width),
                                               replace_stride_with_dilation=dilate)
        m2 = r.layer2[0]
        if bottleneck and tuple(m2.conv1.stride) != (1, 1):  # v1: the stride in the first 1x1
            for b in ref.modules():
                if isinstance(b, torchvision.models.resnet.Bottleneck) and tuple(b.conv2.stride) != (1, 1):
                    b.conv1.stride, b.conv2.stride = b.conv2.stride, (1, 1)
        ours = dict(r.named_modules())
        for name, want in ref.named_modules():
            if name not in ours or not isinstance(want, (torch.nn.Conv2d, torch.nn.MaxPool2d,
                                                         torch.nn.AdaptiveAvgPool2d, torch.nn.ReLU)):
                continue  # another implementation's names (timm's act1, global_pool) are not torchvision's
            got, form = conv_form(ours[name]), conv_form(want)
            if got != form:
                fail("%s: module '%s%s' is %s where torchvision's ResNet has %s: the engine would not compute it" %
                     (path, p, name, describe(got), describe(form)))
        outputs, sig = sigmoid_head(r)
        for name, m in ours.items():
            if sig is not None and name == sig:
                if outputs != 1:
                    fail("%s: module '%s%s' is a Sigmoid after an fc of %d outputs (multi-label): the engine takes the "
                         "softmax of several outputs" % (path, p, name, outputs))
                print("pth-to-safetensors: module '%s%s', a Sigmoid after an fc of one output, left out: the engine "
                      "reads one output through a sigmoid" % (p, name), file=sys.stderr)
                continue
            if not list(m.children()) and type(m).__name__ not in PLAIN_LAYERS:
                fail("%s: module '%s%s' is a %s, which torchvision's ResNet does not have: the engine would not "
                     "compute it" % (path, p, name, type(m).__name__))
        strides[root] = {(False, False, True): 16, (False, True, True): 8}.get(tuple(dilate), 32)
    if len(set(strides.values())) > 1:  # one output stride goes in the file, whichever network --prefix takes
        fail('%s: holds ResNets of different output strides (%s): save the one to convert alone' %
             (path, ', '.join("'%s' %d" % (k, v) for k, v in strides.items())))
    return strides[roots[0]]


def as_state_dict(v, path=None):
    """v's state_dict when v is a model or a non-empty dict of tensors, else None. A model's
    carries the epsilons of its batch norms, which a state_dict does not hold, as _bn_eps, and
    the output stride of its dilated stages as _output_stride."""
    if isinstance(v, torch.nn.Module):
        output_stride = check_model(v, path)
        eps = sorted({m.eps for m in v.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)})
        # where its bottlenecks stride, which a state_dict does not hold either: in the 3x3
        # (torchvision's, v1.5) or in the first 1x1 (v1)
        mods = dict(v.named_modules())
        variant = None
        for name, m in mods.items():
            if name.endswith('layer2.0.conv1') and name[:-1] + '3' in mods and hasattr(m, 'stride'):
                variant = 'v1' if tuple(m.stride) != (1, 1) else 'v1.5'
        v = v.state_dict()
        v._bn_eps = eps
        v._variant = variant
        v._output_stride = output_stride
    return v if isinstance(v, dict) and v and all(torch.is_tensor(t) for t in v.values()) else None


def load_state_dict(path):
    try:
        # weights_only where this torch has it: a plain state_dict needs no code from the file
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except TypeError:
        obj = torch.load(path, map_location='cpu')
    except Exception:
        try:
            obj = torch.load(path, map_location='cpu')  # a whole model: its classes are unpickled
        except Exception as e:
            fail('%s: not a PyTorch checkpoint this torch can read (%s)' % (path, str(e).splitlines()[0]))
    obj = as_state_dict(obj, path) or obj
    if isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        # a training checkpoint: the network's state_dict under a name of the script's choosing
        # (PyTorch's own tutorial saves 'model_state_dict'), beside the epoch and the optimizer's
        for key in ('state_dict', 'model_state_dict', 'model', 'net', 'network'):
            inner = as_state_dict(obj.get(key), path)
            if inner:
                obj = inner
                break
        else:
            found = [k for k, v in obj.items() if as_state_dict(v, path)]
            if len(found) > 1:
                fail('%s: holds several state_dicts (%s): save the network\'s alone' %
                     (path, ', '.join("'%s'" % k for k in found)))
            if found:
                obj = as_state_dict(obj[found[0]], path)
            elif not any(torch.is_tensor(v) for v in obj.values()):
                fail('%s: holds no state_dict (a dict of tensors), nor a model; its entries: %s' %
                     (path, ', '.join("'%s'" % k for k in list(obj)[:8])))
    if not isinstance(obj, dict) or not obj:
        fail('%s: holds no state_dict (a dict of tensors), nor a model' % path)
    out = {}
    eps = getattr(obj, '_bn_eps', [])
    if len(eps) > 1:
        fail('%s: its batch norms have different epsilons (%s); a weight file holds one' %
             (path, ', '.join('%g' % e for e in eps)))
    for k, v in obj.items():
        if not torch.is_tensor(v):
            fail("%s: entry '%s' is a %s, not a tensor" % (path, k, type(v).__name__))
        name = k[len('module.'):] if k.startswith('module.') else k
        # 'module.fc.weight' and 'fc.weight' both there: one would silently replace the other
        if name in out:
            fail("%s: entries 'module.%s' and '%s' are both there: which one is the network's?" % (path, name, name))
        out[name] = v
    return out, (repr(float(eps[0])) if eps else '1e-05'), getattr(obj, '_variant', None), \
        getattr(obj, '_output_stride', 32)


def strip_wrapper(sd, path):
    """A training wrapper's prefix taken off: Lightning's module keeps the network as an
    attribute ('model.conv1.weight', 'net.conv1.weight'), and a file with those names loads as
    nothing. Stripped when every key has it; with other entries beside the network (a loss's
    weights, an EMA copy) which ones are the network is the user's call: --prefix."""
    if 'conv1.weight' in sd:
        return sd
    tail = 'conv1.weight'
    found = [k[:-len(tail)] for k in sd if k.endswith('.' + tail) and k[:-len(tail)] + 'layer1.0.conv1.weight' in sd]
    if not found:
        return sd
    if len(found) > 1:
        fail("%s: several networks in it, under %s: give --prefix with the one to convert" %
             (path, ', '.join("'%s'" % p for p in found)))
    p = found[0]
    other = next((k for k in sd if not k.startswith(p)), None)
    if other is not None:
        fail("%s: the network's names start with '%s', beside other entries such as '%s': give --prefix %s" %
             (path, p, other, p))
    print("pth-to-safetensors: the prefix '%s' taken off every name" % p, file=sys.stderr)
    return {k[len(p):]: v for k, v in sd.items()}


def sequential_fc(sd):
    """fc = nn.Sequential(nn.Dropout(p), nn.Linear(...)), the usual fine-tuning head, saves its
    Linear as 'fc.1.weight'; in eval mode the Dropout passes its input through, so that Linear
    is the fc, under the name the engine reads. A head of several layers stays as it is (the
    engine runs one Linear; `resnet` names the tensor it does not use)."""
    if 'fc.weight' in sd or 'fc.bias' in sd:
        return sd
    fc = [k for k in sd if k.startswith('fc.')]
    parts = [k.split('.') for k in fc]
    if len(fc) != 2 or any(len(p) != 3 for p in parts) or len({p[1] for p in parts}) != 1:
        return sd
    i = parts[0][1]
    w, b = sd.get('fc.%s.weight' % i), sd.get('fc.%s.bias' % i)
    if w is None or b is None or w.dim() != 2 or b.dim() != 1:
        return sd
    print("pth-to-safetensors: fc.%s.weight and fc.%s.bias taken as the fc (a Sequential with one Linear)" % (i, i),
          file=sys.stderr)
    rename = {'fc.%s.weight' % i: 'fc.weight', 'fc.%s.bias' % i: 'fc.bias'}
    return {rename.get(k, k): v for k, v in sd.items()}


def write_safetensors(tensors, path, metadata):
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.is_floating_point():
            dtype, data = 'F32', t.to(torch.float32).numpy().astype('<f4').tobytes()
        elif t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            dtype, data = 'I64', t.to(torch.int64).numpy().astype('<i8').tobytes()
        else:
            fail("tensor '%s' has dtype %s, which is not written" % (name, t.dtype))
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    # the C tools' temporary name (src/io/atomic.c); one that exists is not ours to replace
    for n in range(100):
        tmp = '%s.tmp.%d.%d.resnet' % (path, os.getpid(), n)
        try:
            f = open(tmp, 'xb')
            break
        except FileExistsError:
            continue
        except OSError as e:  # no such folder, no permission: one line, not a traceback
            fail('%s: cannot create a file beside it: %s' % (path, e.strerror))
    else:
        fail('%s: cannot create a file beside it: every temporary name is taken' % path)
    try:
        with f:
            f.write(struct.pack('<Q', len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def is_safetensors(path):
    with open(path, 'rb') as f:
        head = f.read(9)
    return len(head) == 0 or (len(head) == 9 and head[8:9] == b'{')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoint')
    ap.add_argument('out')
    ap.add_argument('--labels', help='class names, one a line')
    ap.add_argument('--norm', choices=('torch', 'caffe'), default='torch')
    ap.add_argument('--variant', choices=('v1.5', 'v1'), help="v1.5 unless a whole model's strides say v1")
    ap.add_argument('--prefix', help="only the keys starting with this, it taken off (e.g. 'backbone.body.')")
    ap.add_argument('--force', action='store_true', help='replace an existing file that is not safetensors')
    a = ap.parse_args()
    if not os.path.isfile(a.checkpoint):
        fail('%s: no such file' % a.checkpoint)
    if os.path.isdir(a.out):
        fail('%s is a folder; name the file to write' % a.out)
    if os.path.exists(a.out):
        if os.path.samefile(a.out, a.checkpoint):
            fail('%s is the checkpoint; choose another output name' % a.out)
        if not a.force and not is_safetensors(a.out):
            fail('%s exists and is not a safetensors file (--force to replace it)' % a.out)
    sd, bn_eps, variant, output_stride = load_state_dict(a.checkpoint)
    if a.variant and variant and a.variant != variant:
        fail('%s: --variant %s, but the model strides its bottlenecks as %s does' % (a.checkpoint, a.variant, variant))
    variant = a.variant or variant or 'v1.5'
    # DataParallel's 'module.' is gone from the keys by now: a --prefix that names it (the
    # checkpoint's keys as the user sees them) means the rest of it
    prefix = a.prefix[len('module.'):] if a.prefix and a.prefix.startswith('module.') else a.prefix
    if prefix:
        inner = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix) and len(k) > len(prefix)}
        if not inner:
            fail("%s: no key starts with '%s' (the first is '%s')" % (a.checkpoint, a.prefix, next(iter(sd))))
        sd = inner
    elif not a.prefix:
        sd = strip_wrapper(sd, a.checkpoint)
    sd = sequential_fc(sd)
    meta = {'normalization': a.norm, 'variant': variant, 'bn_eps': bn_eps, 'source': 'pytorch checkpoint'}
    if output_stride != 32:  # a whole dilated model: what its strides say, as `resnet import` records it
        meta['output_stride'] = str(output_stride)
    if a.labels:
        try:
            # utf-8-sig: a byte-order mark (Notepad) is no part of name 0, as resnet's --labels has it
            with open(a.labels, encoding='utf-8-sig') as f:
                names = f.read().split('\n')
        except OSError as e:  # one line naming the file, not a traceback
            fail('%s: cannot read it: %s' % (a.labels, e.strerror))
        except UnicodeDecodeError:
            fail('%s: not UTF-8 text' % a.labels)
        if any('\0' in n for n in names):  # JSON's \u0000: no loader reads such a name
            fail('%s: line %d holds a NUL byte: not a text file (UTF-16? save it as UTF-8)'
                 % (a.labels, next(i for i, n in enumerate(names) if '\0' in n) + 1))
        if names and names[-1] == '':
            names.pop()
        names = [n[:-1] if n.endswith('\r') else n for n in names]
        if any(not n for n in names):
            fail('%s: an empty name (line %d)' % (a.labels, names.index('') + 1))
        fc = sd.get('fc.bias')
        if fc is not None and fc.numel() != len(names):
            fail('%s has %d names, the network has %d classes' % (a.labels, len(names), fc.numel()))
        meta['labels'] = json.dumps(names, ensure_ascii=False)
    write_safetensors(sd, a.out, meta)
    print('pth-to-safetensors: wrote %s (%d tensors)' % (a.out, len(sd)), file=sys.stderr)


if __name__ == '__main__':
    main()
