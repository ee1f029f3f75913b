#!/usr/bin/python3
"""make-family.py - torchvision ResNet-family networks and PyTorch's answers on our photos, to
check that the engine runs every one of them exactly as PyTorch does (tests/test_family.c).

    tools/make-family.py --small tests/data/family      # the narrow models committed for tier 1
    tools/make-family.py --full DIR [--only resnet18]    # every constructor, random weights (tier 2)

Needs Debian's python3-torch, python3-torchvision, python3-pil and python3-numpy; nothing of
ours runs here, so the answers are an independent reference. Weights are random (seeded), with
every batch norm's running statistics and affine parameters randomised (not left at identity)
and the fc scaled so that the softmax is not flat. Each model is written as
safetensors.torch.save_file(model.state_dict()) writes it (the format is written here by hand:
an 8-byte header length, a JSON header, the data), without metadata.

The pipeline at input size N is torchvision's eval transform at that size, as the reference's:
PIL RGB, shorter side resized to int(N * 256 / 224) (BILINEAR), centre crop N, /255, mean/std.

MANIFEST.tsv, a line per check: weights, photo, input size, output stride, what ("logits" or
"layer1".."layer4": a stage's output, N x C x H x W), the file of float32 values (little-endian,
no header), and the model's name.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.models.resnet import BasicBlock, Bottleneck

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = ['demo/chelsea.png', 'demo/coffee.png']
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FULL = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnext50_32x4d', 'resnext101_32x8d',
        'resnext101_64x4d', 'wide_resnet50_2', 'wide_resnet101_2']


def save_safetensors(sd, path):
    """A state_dict as safetensors: F32 floats, I64 counters (num_batches_tracked)."""
    header, blobs, offset = {}, [], 0
    for name, t in sd.items():
        t = t.detach().contiguous()
        if t.dtype == torch.float32:
            dtype, data = 'F32', t.numpy().astype('<f4').tobytes()
        elif t.dtype == torch.int64:
            dtype, data = 'I64', t.numpy().astype('<i8').tobytes()
        else:
            raise SystemExit('%s: dtype %s not written' % (name, t.dtype))
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def randomise(model, seed):
    """Random weights (torchvision's init, seeded), batch norms far from identity, fc scaled."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
        fc = model.fc
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=g) / fc.weight.shape[1] ** 0.5)
        fc.bias.copy_(0.1 * torch.randn(fc.bias.shape, generator=g))
    model.eval()
    return model


def preprocess(path, n):
    img = Image.open(os.path.join(ROOT, path)).convert('RGB')
    side = n * 256 // 224
    w, h = img.size
    size = (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
    img = img.resize(size, Image.BILINEAR)
    left, top = int(round((size[0] - n) / 2.0)), int(round((size[1] - n) / 2.0))
    img = img.crop((left, top, left + n, top + n))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1)
    x = (x / 255 - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    return x.contiguous()[None]


def stages(net, x):
    """torchvision's _forward_impl, keeping each stage's output."""
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    out = {}
    for i in range(1, 5):
        x = getattr(net, 'layer%d' % i)(x)
        out['layer%d' % i] = x
    out['logits'] = net.fc(torch.flatten(net.avgpool(x), 1))
    return out


class Narrow(torch.nn.Module):
    """torchvision's ResNet with any widths: the same module names, blocks and forward pass
    (torchvision's own class fixes the stem at 64 and the stages at 64..512 planes)."""

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


def small_models():
    return {
        # widths grow from stage to stage, as in every constructor: a dilated stage that kept its
        # width would have no projection shortcut where the strided one has
        'small_basic': lambda d: Narrow(BasicBlock, [2, 1, 1, 1], [32, 32, 64, 64], 32, 1000),
        'small_bottleneck': lambda d: Narrow(Bottleneck, [2, 1, 1, 1], [32, 64, 96, 128], 32, 10, dilate=d),
        # 4 groups of 8, 16, 16, 16 channels: less than a panel, a panel, several panels
        'small_grouped': lambda d: Narrow(Bottleneck, [1, 1, 2, 1], [32, 64, 64, 64], 32, 10, groups=4,
                                          base_width=16, dilate=d),
    }


def write(out_dir, manifest, model_name, weights, photo, size, stride, what, values):
    fname = '%s.%s.%d.os%d.%s.f32' % (model_name, os.path.splitext(os.path.basename(photo))[0], size, stride, what)
    values.detach().numpy().astype('<f4').tofile(os.path.join(out_dir, fname))
    manifest.append('\t'.join([weights, photo, str(size), str(stride), what, fname, model_name]))


def dilation_for(stride):
    return {32: (False, False, False), 16: (False, False, True), 8: (False, True, True)}[stride]


def make(out_dir, name, build, seed, checks, manifest):
    """build(dilate) -> model; checks: (size, stride, [what]) to write."""
    torch.manual_seed(seed)
    base = randomise(build(dilation_for(32)), seed)
    wfile = name + '.safetensors'
    save_safetensors(base.state_dict(), os.path.join(out_dir, wfile))
    for size, stride, whats in checks:
        net = base
        if stride != 32:  # the same weights, dilated (torchvision's replace_stride_with_dilation)
            net = build(dilation_for(stride))
            net.load_state_dict(base.state_dict())
            net.eval()
        with torch.no_grad():
            for photo in PHOTOS:
                out = stages(net, preprocess(photo, size))
                for what in whats:
                    write(out_dir, manifest, name, wfile, photo, size, stride, what, out[what][0])
                if whats == ['logits', 'layer1', 'layer2', 'layer3', 'layer4']:
                    whats = ['logits']  # the stages on the first photo only: they are large
    print('%s: %d parameters' % (name, sum(p.numel() for p in base.parameters())), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--small', metavar='DIR', help='the narrow models (tier 1)')
    ap.add_argument('--full', metavar='DIR', help='every torchvision constructor (tier 2)')
    ap.add_argument('--only', action='append', help='only these constructors (--full)')
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if not args.small and not args.full:
        ap.error('give --small DIR or --full DIR')
    out_dir = args.small or args.full
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    all_stages = ['logits', 'layer1', 'layer2', 'layer3', 'layer4']
    if args.small:
        for i, (name, build) in enumerate(small_models().items()):
            checks = [(224, 32, all_stages if name == 'small_basic' else ['logits']), (160, 32, ['logits'])]
            if name == 'small_bottleneck':
                checks += [(128, 8, ['logits', 'layer4']), (128, 16, ['logits'])]
            make(out_dir, name, build, 100 + i, checks, manifest)
    else:
        for i, ctor in enumerate(args.only or FULL):
            fn = getattr(torchvision.models, ctor)
            bottleneck = ctor not in ('resnet18', 'resnet34')
            # 1000 classes at 224 (and stages, and dilation where torchvision allows it)
            checks = [(224, 32, all_stages if ctor in ('resnet18', 'resnet50') else ['logits'])]
            if bottleneck and ctor in ('resnet50', 'resnext50_32x4d'):
                checks += [(224, 8, ['logits', 'layer4']), (224, 16, ['logits'])]
            make(out_dir, ctor, lambda d, fn=fn: fn(replace_stride_with_dilation=list(d)), 1000 + i, checks,
                 manifest)
            # 10 classes at another size
            make(out_dir, ctor + '_10', lambda d, fn=fn: fn(num_classes=10, replace_stride_with_dilation=list(d)),
                 2000 + i, [(288, 32, ['logits'])], manifest)
    with open(os.path.join(out_dir, 'MANIFEST.tsv'), 'w') as f:
        f.write('# weights\tphoto\tsize\toutput_stride\twhat\tvalues\tmodel\n')
        f.write('# torch %s, torchvision %s\n' % (torch.__version__, torchvision.__version__))
        f.write('\n'.join(manifest) + '\n')


if __name__ == '__main__':
    main()
