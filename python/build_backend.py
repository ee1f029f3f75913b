"""build_backend.py - the PEP 517 backend of pyproject.toml: builds the pure-Python wheel of
the resnet package (and an sdist) with the standard library alone, so that `pip install
./python` needs no network for setuptools. The version is the C header's
(RESNET_VERSION_MAJOR/MINOR/PATCH in ../include/resnet.h): the binding and the library it
mirrors are one version."""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "resnet"


def _version():
    # an unpacked sdist has no ../include: its PKG-INFO (written by build_sdist) has the version
    pkg_info = os.path.join(HERE, "PKG-INFO")
    if os.path.exists(pkg_info):
        with open(pkg_info) as f:
            found = re.search(r"^Version: (\S+)$", f.read(), re.M)
        if not found:
            raise RuntimeError("resnet: %s has no Version line" % pkg_info)
        return found.group(1)
    header = os.path.join(HERE, os.pardir, "include", "resnet.h")
    try:
        with open(header) as f:
            text = f.read()
    except OSError as e:
        raise RuntimeError("resnet: cannot read %s for the version (%s): build from the source tree" % (header, e))
    parts = [re.search(r"#define RESNET_VERSION_%s (\d+)" % p, text) for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        raise RuntimeError("resnet: %s does not define RESNET_VERSION_MAJOR/MINOR/PATCH" % header)
    return ".".join(m.group(1) for m in parts)


def _metadata(version):
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: ResNet image classification in C, from Python (ctypes, numpy)\n"
            "License: MIT\nRequires-Python: >=3.9\nRequires-Dist: numpy\n" % (NAME, version))


def _package_files():
    pkg = os.path.join(HERE, NAME)
    return sorted(os.path.join(NAME, f) for f in os.listdir(pkg) if f.endswith(".py"))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    dist_info = "%s-%s.dist-info" % (NAME, version)
    wheel_name = "%s-%s-py3-none-any.whl" % (NAME, version)
    files = [(rel, open(os.path.join(HERE, rel), "rb").read()) for rel in _package_files()]
    files.append((dist_info + "/METADATA", _metadata(version).encode()))
    files.append((dist_info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: resnet build_backend.py\n"
                                        b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = io.StringIO()
    for rel, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.write("%s,sha256=%s,%d\n" % (rel, digest, len(data)))
    record.write("%s/RECORD,,\n" % dist_info)
    files.append((dist_info + "/RECORD", record.getvalue().encode()))
    path = os.path.join(wheel_directory, wheel_name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, data in files:
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))  # the same bytes every build
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "%s-%s" % (NAME, version)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "build_backend.py"] + _package_files():
            t.add(os.path.join(HERE, rel), arcname=base + "/" + rel)
        data = _metadata(version).encode()
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return name
