"""The few CUDA runtime calls the TensorRT backend needs, through ctypes on ``libcudart``.

No torch, pycuda or cuda-python: JetPack and every CUDA install ship libcudart, and these calls
(device query, malloc/free, async copies on one stream) have kept their C signatures from CUDA
11 to 13.
"""

import ctypes
import ctypes.util
import glob

import numpy as np

from lhg_ros.backends.errors import BackendError

# Sonames first (what the dynamic loader finds), then the usual install folders.
LIBRARY_NAMES = ('libcudart.so', 'libcudart.so.13', 'libcudart.so.12', 'libcudart.so.11.0')
LIBRARY_GLOBS = ('/usr/local/cuda/lib64/libcudart.so*',
                 '/usr/local/cuda/targets/*/lib/libcudart.so*',
                 '/usr/lib/*-linux-gnu/libcudart.so*')
HOST_TO_DEVICE, DEVICE_TO_HOST = 1, 2  # cudaMemcpyKind
COMPUTE_CAPABILITY_MAJOR, COMPUTE_CAPABILITY_MINOR = 75, 76  # cudaDeviceAttr
DEVICE_PROP_BYTES = 4096  # more than sizeof(cudaDeviceProp) in any CUDA release; name comes first


def _candidates() -> list[str]:
    import site
    import sys

    found = ctypes.util.find_library('cudart')
    names = [found] if found else []
    names += LIBRARY_NAMES
    # pip's NVIDIA runtime wheel (nvidia-cuda-runtime-cu*), on machines with a driver only.
    folders = [*site.getsitepackages(), *sys.path]
    patterns = [*LIBRARY_GLOBS, *(f'{f}/nvidia/cuda_runtime/lib/libcudart.so*' for f in folders),
                *(f'{f}/nvidia/cu*/lib/libcudart.so*' for f in folders)]
    for pattern in patterns:
        names += sorted(glob.glob(pattern), reverse=True)
    return list(dict.fromkeys(names))


class CudaRuntime:
    """One process's handle on libcudart; every call's status is checked."""

    def __init__(self, lib: ctypes.CDLL):
        self._lib = lib
        c_void_p, c_size_t, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        lib.cudaGetErrorString.argtypes = [c_int]
        lib.cudaMalloc.argtypes = [ctypes.POINTER(c_void_p), c_size_t]
        lib.cudaFree.argtypes = [c_void_p]
        lib.cudaMemcpyAsync.argtypes = [c_void_p, c_void_p, c_size_t, c_int, c_void_p]
        lib.cudaMemsetAsync.argtypes = [c_void_p, c_int, c_size_t, c_void_p]
        lib.cudaStreamCreate.argtypes = [ctypes.POINTER(c_void_p)]
        lib.cudaStreamSynchronize.argtypes = [c_void_p]
        lib.cudaStreamDestroy.argtypes = [c_void_p]
        lib.cudaDeviceGetAttribute.argtypes = [ctypes.POINTER(c_int), c_int, c_int]
        lib.cudaGetDeviceCount.argtypes = [ctypes.POINTER(c_int)]
        lib.cudaSetDevice.argtypes = [c_int]

    @classmethod
    def load(cls) -> 'CudaRuntime':
        errors = []
        for name in _candidates():
            try:
                return cls(ctypes.CDLL(name))
            except OSError as exc:
                errors.append(str(exc))
        raise BackendError('the tensorrt backend needs the CUDA runtime (libcudart.so), which '
                           'was not found; on Jetson it comes with JetPack, elsewhere with the '
                           'CUDA toolkit (add its lib64 folder to LD_LIBRARY_PATH)')

    def check(self, status: int, what: str) -> None:
        if status != 0:
            message = self._lib.cudaGetErrorString(status) or b'unknown error'
            raise BackendError(f'CUDA {what} failed: {message.decode()} ({status})')

    def device_count(self) -> int:
        count = ctypes.c_int(0)
        status = self._lib.cudaGetDeviceCount(ctypes.byref(count))
        return count.value if status == 0 else 0

    def set_device(self, device: int) -> None:
        count = ctypes.c_int(0)
        self.check(self._lib.cudaGetDeviceCount(ctypes.byref(count)),
                   'cudaGetDeviceCount (is the NVIDIA driver new enough for this CUDA runtime?)')
        count = count.value
        if device >= count:
            raise BackendError(f'CUDA device {device} asked for, but {count} visible '
                               '(check the driver and CUDA_VISIBLE_DEVICES)')
        self.check(self._lib.cudaSetDevice(device), f'cudaSetDevice({device})')

    def device_name(self, device: int) -> str:
        props = ctypes.create_string_buffer(DEVICE_PROP_BYTES)
        query = getattr(self._lib, 'cudaGetDeviceProperties_v2', None) or \
            self._lib.cudaGetDeviceProperties
        query.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.check(query(props, device), 'cudaGetDeviceProperties')
        return props.value.decode(errors='replace')

    def compute_capability(self, device: int) -> tuple[int, int]:
        values = []
        for attribute in (COMPUTE_CAPABILITY_MAJOR, COMPUTE_CAPABILITY_MINOR):
            value = ctypes.c_int(0)
            self.check(self._lib.cudaDeviceGetAttribute(ctypes.byref(value), attribute, device),
                       'cudaDeviceGetAttribute')
            values.append(value.value)
        return values[0], values[1]

    def stream(self) -> ctypes.c_void_p:
        handle = ctypes.c_void_p()
        self.check(self._lib.cudaStreamCreate(ctypes.byref(handle)), 'cudaStreamCreate')
        return handle

    def synchronize(self, stream) -> None:
        self.check(self._lib.cudaStreamSynchronize(stream), 'cudaStreamSynchronize')

    def destroy_stream(self, stream) -> None:
        self._lib.cudaStreamDestroy(stream)

    def malloc(self, nbytes: int) -> int:
        pointer = ctypes.c_void_p()
        self.check(self._lib.cudaMalloc(ctypes.byref(pointer), nbytes), f'cudaMalloc({nbytes})')
        return pointer.value

    def free(self, pointer: int) -> None:
        self._lib.cudaFree(pointer)

    def upload(self, pointer: int, array: np.ndarray, stream) -> None:
        self.check(self._lib.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes,
                                             HOST_TO_DEVICE, stream), 'host-to-device copy')

    def download(self, array: np.ndarray, pointer: int, stream) -> None:
        self.check(self._lib.cudaMemcpyAsync(array.ctypes.data, pointer, array.nbytes,
                                             DEVICE_TO_HOST, stream), 'device-to-host copy')

    def zero(self, pointer: int, nbytes: int, stream) -> None:
        self.check(self._lib.cudaMemsetAsync(pointer, 0, nbytes, stream), 'cudaMemsetAsync')


class DeviceArray:
    """A float32 array in device memory, freed with its owner."""

    def __init__(self, cuda: CudaRuntime, shape: tuple[int, ...]):
        self.cuda, self.shape = cuda, tuple(shape)
        self.nbytes = int(np.prod(self.shape)) * 4
        self.pointer = cuda.malloc(max(self.nbytes, 4))

    def __del__(self):
        pointer, self.pointer = getattr(self, 'pointer', None), None
        if pointer:
            self.cuda.free(pointer)

