"""resnet - Python binding of libresnet (the ResNet family in C), on ctypes and numpy.

    import resnet
    m = resnet.Model()                      # the default weight file, as the resnet tool finds it
    m.classify("cat.jpg", k=3)              # [{"index": 282, "name": "tiger cat", "prob": 0.61}, ...]
    m.classify(open("cat.jpg", "rb").read(), tta="flip")
    m.embed("cat.jpg")                      # numpy float32 (m.feature_dim,): the pooled features

A photo is a path (str or os.PathLike), its file's bytes (bytes, bytearray, memoryview: a
bytes object is always contents, never a path), or a numpy array: uint8 RGB of shape (H, W, 3)
(a decoded photo: resized and cropped as a file is), or float32 (3, S, S) at the model's input
size S (224 by default), already preprocessed as resnet_model_norm says.
Errors of the library are raised as resnet.Error, carrying its one-line message.

The library is found as $RESNET_LIBRARY, else the build tree's build/libresnet.so beside this
package (python/resnet/ -> ../../build/), else the system's libresnet.so.1 (make install).
"""
import ctypes
import ctypes.util
import os
import sys
import threading

try:
    import numpy as np
except ImportError:
    raise ImportError("the resnet package needs numpy, which %s lacks: Debian's python3-numpy "
                      "(apt-get install python3-numpy) for /usr/bin/python3, or pip install numpy"
                      % sys.executable) from None

__all__ = ["Model", "Error", "default_weights", "class_name", "library_version", "load_image", "list_images",
           "TTA_MODES"]

NUM_CLASSES = 1000
FEATURE_DIM = 2048
INPUT_SIZE = 224
TTA_MAX_VIEWS = 16
TTA_MODES = ("none", "flip", "10crop", "multiscale")

_STATUS = {0: "ok", 1: "bad argument", 2: "i/o error", 3: "bad weights", 4: "bad image",
           5: "out of memory", 6: "unsupported"}


# ---- the C structs, field for field as include/resnet.h declares them --------------------
# tests/test_python.sh compares every size and offset here with a C program's sizeof/offsetof.
class _Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 512)]


class _LoadOptions(ctypes.Structure):  # size-versioned: resnet_load_options_init_size sets size
    _fields_ = [("size", ctypes.c_size_t), ("kernels", ctypes.c_int), ("direct", ctypes.c_int),
                ("input_size", ctypes.c_int), ("output_stride", ctypes.c_int), ("labels", ctypes.c_char_p),
                ("precision", ctypes.c_int), ("wide_winograd", ctypes.c_int)]


class _Outputs(ctypes.Structure):  # size-versioned: resnet_outputs_init_size
    _fields_ = [("size", ctypes.c_size_t),
                ("logits", ctypes.POINTER(ctypes.c_float)),
                ("features", ctypes.POINTER(ctypes.c_float)),
                ("feature_map", ctypes.POINTER(ctypes.c_float)),
                ("class_maps", ctypes.POINTER(ctypes.c_float)),
                ("stages", ctypes.POINTER(ctypes.c_float) * 4)]


class _Info(ctypes.Structure):
    _fields_ = [("arch", ctypes.c_char * 48), ("depth", ctypes.c_int), ("block", ctypes.c_int),
                ("blocks", ctypes.c_int * 4), ("widths", ctypes.c_int * 4), ("groups", ctypes.c_int),
                ("classes", ctypes.c_int), ("feature_dim", ctypes.c_int), ("input_size", ctypes.c_int),
                ("output_stride", ctypes.c_int), ("precision", ctypes.c_int), ("variant", ctypes.c_int),
                ("norm", ctypes.c_int), ("labels", ctypes.c_int), ("layers", ctypes.c_int),
                ("reserved", ctypes.c_int * 8)]


class _Prediction(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int), ("prob", ctypes.c_float)]


class _View(ctypes.Structure):
    _fields_ = [("resize", ctypes.c_int), ("crop", ctypes.c_int), ("flip", ctypes.c_int)]


class _Image(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int),
                ("rgb", ctypes.POINTER(ctypes.c_ubyte))]


class _FileList(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int), ("paths", ctypes.POINTER(ctypes.c_char_p)),
                ("n_problems", ctypes.c_int), ("problems", ctypes.POINTER(ctypes.c_char_p))]


STRUCTS = {"resnet_info": _Info, "resnet_file_list": _FileList, "resnet_error": _Error, "resnet_load_options": _LoadOptions, "resnet_outputs": _Outputs,
           "resnet_prediction": _Prediction, "resnet_view": _View, "resnet_image": _Image}


class Error(Exception):
    """An error of the library: str(e) is its one-line message; e.status its resnet_status
    number, e.status_name what that means ("bad image", "i/o error", ...)."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = _STATUS.get(status, "error")


def _find_library():
    env = os.environ.get("RESNET_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.join(here, os.pardir, os.pardir, "build", "libresnet.so")
    if os.path.exists(built):
        return os.path.normpath(built)
    return ctypes.util.find_library("resnet") or "libresnet.so.1"


_lib = None
_lib_lock = threading.Lock()


def _library():
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        path = _find_library()
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise Error("cannot load the resnet library %s (%s): install it (make install), or set "
                        "RESNET_LIBRARY to a built one (build/libresnet.so)"
                        % (path, e), 2) from None
        P, c_int, c_size_t, c_float = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_float
        fp = ctypes.POINTER(c_float)
        err = ctypes.POINTER(_Error)
        sig = {
            "resnet_version": (c_int, [ctypes.POINTER(ctypes.c_char_p)]),
            "resnet_load_options_init_size": (None, [ctypes.POINTER(_LoadOptions), c_size_t]),
            "resnet_outputs_init_size": (None, [ctypes.POINTER(_Outputs), c_size_t]),
            "resnet_model_load": (c_int, [ctypes.c_char_p, ctypes.POINTER(_LoadOptions), ctypes.POINTER(P), err]),
            "resnet_model_free": (None, [P]),
            "resnet_model_norm": (c_int, [P]),
            "resnet_session_create": (c_int, [P, c_int, c_int, ctypes.POINTER(P), err]),
            "resnet_session_free": (None, [P]),
            "resnet_forward_ex": (c_int, [P, fp, c_int, ctypes.POINTER(_Outputs), err]),
            "resnet_preprocess_views_file": (c_int, [ctypes.c_char_p, c_int, ctypes.POINTER(_View), c_int, fp, err]),
            "resnet_preprocess_views_memory": (c_int, [ctypes.c_char_p, c_size_t, ctypes.c_char_p, c_int,
                                                       ctypes.POINTER(_View), c_int, fp, err]),
            "resnet_preprocess_image": (c_int, [ctypes.POINTER(_Image), c_int, fp, err]),
            "resnet_tta_views": (c_int, [c_int, ctypes.POINTER(_View)]),
            "resnet_tta_parse": (c_int, [ctypes.c_char_p]),
            "resnet_tta_average": (None, [fp, c_int, fp]),
            "resnet_top_k": (None, [fp, c_int, c_int, ctypes.POINTER(_Prediction)]),
            "resnet_class_name": (ctypes.c_char_p, [c_int]),
            "resnet_image_load_ex": (c_int, [ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(_Image), err]),
            "resnet_image_free": (None, [ctypes.POINTER(_Image)]),
            "resnet_list_images": (c_int, [ctypes.c_char_p, ctypes.POINTER(_FileList), err]),
            "resnet_file_list_free": (None, [ctypes.POINTER(_FileList)]),
            "resnet_model_info": (None, [P, ctypes.POINTER(_Info)]),
            "resnet_softmax": (None, [fp, c_int, fp]),
            "resnet_l2_normalize": (None, [fp, c_int]),
            "resnet_model_class_label": (ctypes.c_char_p, [P, c_int, ctypes.c_char_p, c_size_t]),
            "resnet_model_stage_shape": (c_int, [P, c_int, ctypes.POINTER(c_int), ctypes.POINTER(c_int),
                                                 ctypes.POINTER(c_int), err]),
            "resnet_model_preprocess_file": (c_int, [P, ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(_View), c_int,
                                                     fp, err]),
            "resnet_model_preprocess_memory": (c_int, [P, ctypes.c_char_p, c_size_t, ctypes.c_char_p, ctypes.c_uint,
                                                       ctypes.POINTER(_View), c_int, fp, err]),
            "resnet_model_preprocess_image": (c_int, [P, ctypes.POINTER(_Image), fp, err]),
        }
        for name, (res, args) in sig.items():
            f = getattr(lib, name)
            f.restype = res
            f.argtypes = args
        # newer than the oldest library this binding takes: bound where the library has them, so
        # an older 1.x still loads; the method that needs one says which version it needs
        since = {"resnet_model_metadata": (ctypes.c_char_p, [P, ctypes.c_char_p])}  # 1.7
        for name, (res, args) in since.items():
            f = getattr(lib, name, None)
            if f is not None:
                f.restype = res
                f.argtypes = args
        major = lib.resnet_version(None) // 10000
        if major != 1 or lib.resnet_version(None) < 10300:
            raise Error("%s is version %d.x of the library; this binding is for 1.3 or later 1.x"
                        % (path, major), 6)
        _lib = lib
        return lib


def library_version():
    """The loaded library's version string ("1.0.0")."""
    s = ctypes.c_char_p()
    _library().resnet_version(ctypes.byref(s))
    return s.value.decode()


def _path(p, what="a path"):
    """p as the C library's bytes; a NUL byte would cut it short there, so it is refused."""
    b = os.fsencode(p)
    if b"\0" in b:
        # a photo's bytes passed as a path (load_image(data)) would be quoted whole: megabytes
        shown = repr(p)
        if len(shown) > 80:
            shown = "%s... (%d bytes: a file's contents, not a path?)" % (shown[:60], len(b))
        raise ValueError("%s with a NUL byte: %s" % (what, shown))
    return b


def class_name(index):
    """ImageNet class name of index 0..999."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < 1000:
        raise IndexError("class index %r is not in 0..999" % (index,))
    name = _library().resnet_class_name(int(index))
    if name is None:
        raise IndexError("class index %d is not in 0..999" % index)
    return name.decode()


def _image_flags(exif_orientation):
    # numpy's bool too (a flag read from an array, as the int arguments take np.integer): its
    # repr is "True", so refusing it said "must be True or False, not True"
    if not isinstance(exif_orientation, (bool, np.bool_)):
        raise ValueError("exif_orientation must be True or False, not %r" % (exif_orientation,))
    return 1 if bool(exif_orientation) else 0  # RESNET_IMAGE_EXIF_ORIENTATION


def load_image(path, exif_orientation=False):
    """Decodes a photo as the library does (any format it reads, to RGB at its own size): a uint8
    array (H, W, 3), which Model.classify and Model.embed accept. exif_orientation=True turns it
    upright as its EXIF orientation tag says (as PIL's ImageOps.exif_transpose; off by default, as
    PIL's open() and torchvision, the reference, leave it)."""
    lib = _library()
    flags = _image_flags(exif_orientation)
    img = _Image()
    err = _Error()
    _check(lib.resnet_image_load_ex(_path(path), flags, ctypes.byref(img), ctypes.byref(err)), err)
    try:
        return np.ctypeslib.as_array(img.rgb, shape=(img.height, img.width, 3)).copy()
    finally:
        lib.resnet_image_free(ctypes.byref(img))


def list_images(folder):
    """The photos under folder, as `resnet classify DIR` finds them (resnet_list_images):
    (paths, problems), paths sorted byte-wise, problems one message per subfolder that could
    not be read. Paths are str (os.fsdecode: names that are not UTF-8 round-trip)."""
    lib = _library()
    lst = _FileList()
    err = _Error()
    _check(lib.resnet_list_images(_path(folder, "a folder"), ctypes.byref(lst), ctypes.byref(err)), err)
    try:
        paths = [os.fsdecode(lst.paths[i]) for i in range(lst.count)]
        problems = [lst.problems[i].decode("utf-8", "surrogateescape") for i in range(lst.n_problems)]
    finally:
        lib.resnet_file_list_free(ctypes.byref(lst))
    return paths, problems


def default_weights():
    """The weight file the resnet tool uses without --weights: $RESNET_WEIGHTS, else
    resnet50-v1-caffe.safetensors in $RESNET_CACHE, else in $XDG_CACHE_HOME/resnet, else in
    ~/.cache/resnet (what `resnet fetch` or `make weights` makes)."""
    env = os.environ.get("RESNET_WEIGHTS")
    if env:
        return env
    name = "resnet50-v1-caffe.safetensors"
    cache = os.environ.get("RESNET_CACHE")
    if cache:
        return os.path.join(cache, name)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "resnet", name)
    return os.path.join(os.environ.get("HOME") or ".", ".cache", "resnet", name)


def _check(status, err):
    if status != 0:
        raise Error(err.message.decode("utf-8", "surrogateescape"), status)


def _fptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


_KERNELS = {None: 0, "auto": 0, "c": 1, "avx2": 2, "avx512": 3}
_PRECISIONS = {None: 0, "fp32": 0, "bf16": 2}  # resnet_precision; int8 is a file's, not a conversion


class Model:
    """A loaded ResNet (any torchvision ResNet-family state_dict in safetensors, or our files).
    path=None: default_weights(). kernels: None/"auto", "c", "avx2", "avx512"; direct: no
    Winograd convolutions; wide_winograd: Winograd on the wider 3x3 layers too (faster, about
    1.4x the memory); precision: None/"fp32" (as the file says) or "bf16" (an fp32
    file converted as it loads); threads: 0 = the model's pool, one thread per core; labels: a text
    file of class names; size: the crop the network sees (default the file's, else 224);
    output_stride: 32, 16 or 8 (dilated last stages, for stages(); default the file's, else 32);
    exif_orientation: turn every photo it reads from a path or bytes upright as its EXIF
    orientation tag says (default False, as the reference pipeline). Safe to share between
    threads (calls on one Model are serialised, and close() waits for the call in progress;
    for parallel work use one Model per process, as the Dask example does). A Model cannot be
    pickled (TypeError); a forked child may use one forked before its first call, and gets
    resnet.Error from one that had run (its thread pool stayed in the parent)."""

    def __init__(self, path=None, kernels=None, direct=False, threads=0, labels=None, size=None,
                 output_stride=None, precision=None, wide_winograd=False, exif_orientation=False):
        lib = _library()
        self._lib = lib
        self._model = None
        self._session = None
        self._batch = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._threads_started = False  # a session (and so a thread pool) was made in process _pid
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 0 <= threads <= 256:
            raise ValueError("threads must be a whole number from 0 (one per core) to 256, not %r" % (threads,))
        self._threads = int(threads)
        self._image_flags = _image_flags(exif_orientation)
        self.path = os.fspath(path) if path is not None else default_weights()
        if path is None and not os.environ.get("RESNET_WEIGHTS") and not os.path.exists(self.path):
            raise Error("no weight file at %s: run 'resnet fetch' (or 'make weights' in the source tree), "
                        "or pass Model(path)" % self.path, 2)
        # a list or dict is not hashable: checked as a name first, or the error is "unhashable type"
        if not (kernels is None or isinstance(kernels, str)) or kernels not in _KERNELS:
            raise ValueError("kernels must be one of auto, c, avx2, avx512, not %r" % (kernels,))
        if not (precision is None or isinstance(precision, str)) or precision not in _PRECISIONS:
            raise ValueError("precision must be fp32 or bf16, not %r" % (precision,))
        opts = _LoadOptions()
        lib.resnet_load_options_init_size(ctypes.byref(opts), ctypes.sizeof(opts))
        opts.kernels = _KERNELS[kernels]
        opts.direct = 1 if direct else 0
        opts.wide_winograd = 1 if wide_winograd else 0
        for name, v, lo, hi in (("size", size, 32, 4096), ("output_stride", output_stride, 8, 32)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi):
                raise ValueError("%s must be a whole number from %d to %d, not %r" % (name, lo, hi, v))
        if output_stride is not None and output_stride not in (8, 16, 32):
            raise ValueError("output_stride must be 8, 16 or 32, not %r" % (output_stride,))
        opts.input_size = int(size or 0)
        opts.output_stride = int(output_stride or 0)
        labels_path = _path(labels, "labels: a path") if labels is not None else None
        opts.labels = labels_path
        opts.precision = _PRECISIONS[precision]
        model = ctypes.c_void_p()
        err = _Error()
        _check(lib.resnet_model_load(_path(self.path, "a weight path"), ctypes.byref(opts), ctypes.byref(model),
                                     ctypes.byref(err)), err)
        self._model = model
        self._norm = lib.resnet_model_norm(model)
        info = _Info()
        lib.resnet_model_info(model, ctypes.byref(info))
        self.classes, self.feature_dim, self.input_size = info.classes, info.feature_dim, info.input_size
        self._info = {
            "arch": info.arch.decode(), "depth": info.depth,
            "block": "bottleneck" if info.block == 1 else "basic",
            "blocks": list(info.blocks), "widths": list(info.widths), "groups": info.groups,
            "classes": info.classes, "feature_dim": info.feature_dim, "input_size": info.input_size,
            "output_stride": info.output_stride, "precision": {0: "fp32", 1: "int8", 2: "bf16"}.get(info.precision, "other"),
            "variant": "v1" if info.variant == 0 else "v1.5", "norm": "caffe" if info.norm == 0 else "torch",
            # how the outputs become probabilities, as `resnet info --json` says it: one output is a
            # binary classifier (its sigmoid), more a softmax, a backbone has none
            "output": "sigmoid" if info.classes == 1 else "softmax" if info.classes > 1 else "none"}

    def info(self):
        """What was loaded: {"arch": "resnet50", "depth", "block", "blocks", "widths", "groups",
        "classes", "feature_dim", "input_size", "output_stride", "precision", "variant", "norm",
        "output"}, as `resnet info --json` gives them; "output" is "softmax" (2 or more classes),
        "sigmoid" (one output: a binary classifier) or "none" (a backbone)."""
        # kept in Python, so it would answer for a freed model: closed is closed for every call
        self._same_process()
        with self._lock:
            if not self._model:
                raise Error("the model is closed", 1)
            return dict(self._info)

    def metadata(self, key):
        """The weight file's metadata (its safetensors "__metadata__") under key, a str as the
        file wrote it ("variant", "normalization", "source", ...), or None where the file has no
        such key, or a value the library does not keep (over 4096 bytes: a long "labels" list,
        whose names class_name gives). Needs library 1.7 or later."""
        if not isinstance(key, str):
            raise TypeError("a metadata key is a str, not %s" % type(key).__name__)
        if "\0" in key:  # the C string would end there: another key's value
            raise ValueError("a metadata key with a NUL byte: %r" % (key,))
        get = getattr(self._lib, "resnet_model_metadata", None)
        if get is None:
            raise Error("Model.metadata needs resnet_model_metadata, of library 1.7 or later; this one is %s"
                        % library_version(), 6)
        self._same_process()
        with self._lock:  # the value lives in the model: copied (c_char_p's bytes) before close() frees it
            if not self._model:
                raise Error("the model is closed", 1)
            value = get(self._model, key.encode("utf-8", "surrogateescape"))
        return None if value is None else value.decode("utf-8", "surrogateescape")

    def class_name(self, index):
        """The name of class index of this network (its labels, ImageNet's, or "class N")."""
        self._need_classes()  # a backbone has no class to name ("not in 0..-1" said nothing)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.classes:
            raise IndexError("class index %r is not in 0..%d" % (index, self.classes - 1))
        buf = ctypes.create_string_buffer(32)
        self._same_process()
        with self._lock:
            if not self._model:
                raise Error("the model is closed", 1)
            return self._lib.resnet_model_class_label(self._model, int(index), buf, 32).decode("utf-8", "replace")

    def close(self):
        """Frees the model (also done when it is garbage-collected). From another thread it
        waits for the call in progress; calls after it raise resnet.Error."""
        lib = getattr(self, "_lib", None)
        lock = getattr(self, "_lock", None)
        if lib is None or lock is None:
            return
        if getattr(self, "_pid", None) != os.getpid() and not self._adopt():
            # a forked child's copy: freeing it would wait for the pool's threads, which stayed in the
            # parent (a hang), and the lock may have been copied held; the parent's model is its own
            self._session = self._model = None
            return
        with lock:
            if self._session:
                lib.resnet_session_free(self._session)
                self._session = None
            if self._model:
                lib.resnet_model_free(self._model)
                self._model = None

    def __del__(self):
        self.close()

    def _adopt(self):
        # a model forked before any session was made has no threads to miss: the child may use it
        # as its own (load once, then fork workers)
        if self._threads_started:
            return False
        self._pid = os.getpid()
        return True

    def _same_process(self):
        # after fork() the child has the model's memory but not its thread pool: a forward pass would
        # wait forever for threads that are not there (multiprocessing forks by default on Linux)
        if self._pid != os.getpid() and not self._adopt():
            raise Error("this Model has run in process %d, whose threads a forked child does not have: load a "
                        "Model in each process, or fork before its first call (or use multiprocessing's spawn "
                        "start method)" % self._pid, 1)

    def __reduce__(self):
        # a Model holds C pointers, valid only in this process: pickle (as Dask and
        # multiprocessing do to ship work) would otherwise fail on a ctypes internal
        raise TypeError("a resnet.Model cannot be pickled or copied to another process: create one "
                        "in each worker (see examples/dask_classify.py)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _session_for(self, n):
        if not self._model:
            raise Error("the model is closed", 1)
        if self._session and self._batch >= n:
            return self._session
        if self._session:
            self._lib.resnet_session_free(self._session)
            self._session = None
        s = ctypes.c_void_p()
        err = _Error()
        _check(self._lib.resnet_session_create(self._model, self._threads, n, ctypes.byref(s), ctypes.byref(err)),
               err)
        self._session, self._batch = s, n
        self._threads_started = True
        return s

    def _views(self, tta):
        if tta is None:
            tta = "none"
        ok = isinstance(tta, str) and tta != "" and "\0" not in tta
        mode = self._lib.resnet_tta_parse(tta.encode()) if ok else -1
        if mode < 0:
            raise ValueError("tta must be one of %s, not %r" % (", ".join(TTA_MODES), tta))
        views = (_View * TTA_MAX_VIEWS)()
        n = self._lib.resnet_tta_views(mode, views)
        return views, n, mode

    def preprocess(self, photo, tta=None):
        """What the network sees of photo: float32 (n, 3, S, S) at the model's input size S,
        one row per view of tta (1 without), normalised for this model's weights."""
        x = self._input(photo, tta)
        # a float32 photo comes back as is: a new array, not a view the caller's writes go through
        return x.copy() if isinstance(photo, np.ndarray) and np.shares_memory(x, photo) else x

    def _input(self, photo, tta):
        self._same_process()
        with self._lock:  # the model is not freed (close) while it is read here
            if not self._model:
                raise Error("the model is closed", 1)
            return self._input_locked(photo, tta)

    def _input_locked(self, photo, tta):
        views, n, mode = self._views(tta)
        err = _Error()
        size = self.input_size
        if isinstance(photo, np.ndarray):
            if mode != 0:
                raise ValueError("tta needs the photo's file or bytes, not an array")
            if photo.dtype == np.float32 and photo.shape == (3, size, size):
                if not np.isfinite(photo).all():  # the library refuses non-finite outputs; inputs too
                    raise ValueError("the input array has inf or NaN values")
                return np.ascontiguousarray(photo).reshape(1, 3, size, size)
            if photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3 and photo.shape[0] > 0 \
                    and photo.shape[1] > 0:
                if max(photo.shape[:2]) > 0x7FFFFFFF:  # the C struct's int sides would wrap to another size
                    raise ValueError("an array photo of %dx%d pixels is too large: each side must be at most %d"
                                     % (photo.shape[1], photo.shape[0], 0x7FFFFFFF))
                rgb = np.ascontiguousarray(photo)
                img = _Image(rgb.shape[1], rgb.shape[0], rgb.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)))
                out = np.empty((1, 3, size, size), np.float32)
                _check(self._lib.resnet_model_preprocess_image(self._model, ctypes.byref(img), _fptr(out),
                                                               ctypes.byref(err)), err)
                return out
            raise ValueError("an array photo is uint8 (H, W, 3) RGB or float32 (3, %d, %d), not %s %s"
                             % (size, size, photo.dtype, photo.shape))
        out = np.empty((n, 3, size, size), np.float32)
        if isinstance(photo, (bytes, bytearray, memoryview)):
            data = bytes(photo)
            st = self._lib.resnet_model_preprocess_memory(self._model, data, len(data), b"<bytes>", self._image_flags,
                                                          views, n,
                                                          _fptr(out), ctypes.byref(err))
        elif isinstance(photo, (str, os.PathLike)):
            st = self._lib.resnet_model_preprocess_file(self._model, _path(photo, "a photo path"), self._image_flags,
                                                        views, n, _fptr(out), ctypes.byref(err))
        else:
            raise TypeError("a photo is a path, its bytes or a numpy array, not %s" % type(photo).__name__)
        _check(st, err)
        return out

    def _need_classes(self):
        if self.classes == 0:
            raise Error("this network is a backbone (its file has no fc): it gives features and stage maps "
                        "(embed, stages), not logits", 6)

    def _forward(self, x, logits=True, features=False):
        if logits:
            self._need_classes()
        n = x.shape[0]
        outs = _Outputs()
        self._lib.resnet_outputs_init_size(ctypes.byref(outs), ctypes.sizeof(outs))
        lg = np.empty((n, self.classes), np.float32) if logits else None
        ft = np.empty((n, self.feature_dim), np.float32) if features else None
        if lg is not None:
            outs.logits = _fptr(lg)
        if ft is not None:
            outs.features = _fptr(ft)
        err = _Error()
        self._same_process()
        with self._lock:
            s = self._session_for(n)
            _check(self._lib.resnet_forward_ex(s, _fptr(x), n, ctypes.byref(outs), ctypes.byref(err)), err)
        # inf/NaN, or 1000 equal numbers, is no answer: the same refusal as the library's own
        # classify calls make (status 3, RESNET_E_WEIGHTS)
        out = lg if lg is not None else ft
        if not np.isfinite(out).all():
            raise Error("the network's output is not finite (inf or NaN): the weights overflow float on this photo", 3)
        if lg is not None and self.classes > 1 and (lg == lg[:, :1]).all(axis=1).any():
            raise Error("the network's %d outputs are all equal: no answer (weights too large for float precision on "
                        "this photo?)" % self.classes, 3)
        return lg, ft

    def logits(self, photo, tta=None):
        """The network's outputs before the softmax: float32 (views, classes), a row per view of
        tta (one without)."""
        lg, _ = self._forward(self._input(photo, tta))
        return lg

    def probabilities(self, photo, tta=None):
        """The softmax probabilities (float32, one per class), averaged over the views of tta;
        one output's is its sigmoid."""
        lg, _ = self._forward(self._input(photo, tta))
        return self._probabilities(lg)

    def _probabilities(self, lg):
        # the library's softmax per view, the views' mean in double: what the CLI prints
        p = np.empty_like(lg)
        for i in range(lg.shape[0]):
            self._lib.resnet_softmax(_fptr(lg[i]), self.classes, _fptr(p[i]))
        return p[0] if p.shape[0] == 1 else (p.astype(np.float64).sum(axis=0) / p.shape[0]).astype(np.float32)

    def classify(self, photo, k=None, tta=None):
        """The k most likely classes, best first: [{"index", "name", "prob"}...], as
        `resnet classify --json` gives them (tta: none, flip, 10crop, multiscale). k defaults
        to 5, or every class of a network with fewer. A network with one output (a binary
        classifier) gives its sigmoid: the probability that the photo is its class."""
        self._need_classes()  # before k is checked against the classes
        if k is None:  # the CLI's default: 5 of a network's 1 to 4 was a ValueError
            k = min(5, self.classes)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.classes:
            raise ValueError("k must be a whole number from 1 to %d, not %r" % (self.classes, k))
        lg, _ = self._forward(self._input(photo, tta))
        probs = self._probabilities(lg)
        # as resnet_top_k_logits ranks (a library before 1.6 has none): by probability, then by
        # the views' mean logit, summed in double in view order, for the classes whose softmax
        # underflowed to 0, then by index
        mean = np.zeros(self.classes, dtype=np.float64)
        for row in lg:
            mean += row
        mean /= lg.shape[0]
        order = np.lexsort((np.arange(self.classes), -mean, -probs.astype(np.float64)))[:int(k)]
        return [{"index": int(i), "name": self.class_name(int(i)), "prob": float(probs[i])} for i in order]

    def stages(self, photo, stages=("layer1", "layer2", "layer3", "layer4")):
        """A backbone's feature maps: {"layer1": float32 (C, H, W), ...} of the plain view, as
        torchvision's stages compute them (see output_stride)."""
        names = ("layer1", "layer2", "layer3", "layer4")
        if isinstance(stages, str):
            stages = (stages,)
        try:
            stages = tuple(stages)
        except TypeError:  # stages=4: "'int' object is not iterable" named neither argument nor choices
            raise TypeError("stages is a name or names of layer1..layer4, not %r" % (stages,)) from None
        for st in stages:
            if st not in names:
                raise ValueError("a stage is one of layer1..layer4, not %r" % (st,))
        x = self._input(photo, None)
        outs = _Outputs()
        self._lib.resnet_outputs_init_size(ctypes.byref(outs), ctypes.sizeof(outs))
        got = {}
        err = _Error()
        self._same_process()
        with self._lock:
            if not self._model:
                raise Error("the model is closed", 1)
            for st in stages:
                c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
                i = names.index(st) + 1
                self._lib.resnet_model_stage_shape(self._model, i, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w),
                                                   None)
                got[st] = np.empty((c.value, h.value, w.value), np.float32)
                outs.stages[i - 1] = _fptr(got[st])
            s = self._session_for(1)
            _check(self._lib.resnet_forward_ex(s, _fptr(x), 1, ctypes.byref(outs), ctypes.byref(err)), err)
        for st, v in got.items():
            if not np.isfinite(v).all():
                raise Error("the network's %s output is not finite (inf or NaN)" % st, 3)
        return got

    def embed(self, photo, l2=False):
        """The pooled features (float32, feature_dim of them: 2048 for ResNet-50) of the plain
        view, as `resnet embed` writes them; l2=True scales them to unit length."""
        x = self._input(photo, None)
        _, ft = self._forward(x, logits=False, features=True)
        v = ft[0]
        if l2:  # the library's own scaling, so the row is `resnet embed --l2`'s bit for bit
            self._lib.resnet_l2_normalize(_fptr(v), v.shape[0])
        return v


def _layout():
    """{struct: (sizeof, {field: offset})} of the ctypes mirrors, for the layout test."""
    return {name: (ctypes.sizeof(cls), {f[0]: getattr(cls, f[0]).offset for f in cls._fields_})
            for name, cls in STRUCTS.items()}
