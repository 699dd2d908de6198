"""libnftables through ctypes, for the project's Python tools (fixture generators, bench/soak):
nftables commands run as the product runs them (platform/linux/nftables.cc), without nft(8),
which the scripts do not install. One transaction per call; the calling process's network
namespace.
"""
import ctypes
import threading

JSON, HANDLE = 1 << 4, 1 << 3  # NFT_CTX_OUTPUT_JSON, NFT_CTX_OUTPUT_HANDLE (nftables/libnftables.h)

_lib = None
_lock = threading.Lock()  # libnftables keeps process-wide state


def _load():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL("libnftables.so.1")
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        for f in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, f).argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        for f in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, f).argtypes = [ctypes.c_void_p]
            getattr(lib, f).restype = ctypes.c_char_p
        _lib = lib
    return _lib


def nft(commands, flags=0):
    """(rc, output, error) of one libnftables run; flags e.g. JSON | HANDLE for listings."""
    lib = _load()
    with _lock:
        ctx = lib.nft_ctx_new(0)
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        lib.nft_ctx_output_set_flags(ctx, flags)
        rc = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
        out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
        err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        lib.nft_ctx_free(ctx)
    return rc, out, err
