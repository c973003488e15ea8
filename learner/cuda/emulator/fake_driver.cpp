// fake_driver.cpp: a stand-in for libcuda.so.1 and libnvrtc.so, built by ../fake_driver_test.go as
// one shared library under both names, so that the backend's real driver bindings (driver.go,
// kernels.go: dlopen, every entry point's signature, out-parameters, the launch parameter array, error
// names, the NVRTC calls and its log) run without a GPU. Kernel launches run the real kernels with the
// emulator of main.cpp, in the calling process; copies and launches complete before they return, so
// streams and events have nothing to order. It checks what a driver checks: the context is current,
// device pointers lie in allocations, kernels exist, and their parameters fit their signatures.
#define EMU_NO_MAIN
#include "main.cpp"

#include <cstdarg>

namespace {

constexpr int kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kInvalidContext = 201, kInvalidDevice = 101,
              kInvalidImage = 200, kNotFound = 500, kLaunchFailed = 719;
void* const kContext = reinterpret_cast<void*>(0xc0);
void* const kModule = reinterpret_cast<void*>(0xd0);
thread_local void* current = nullptr;  // the context current on this thread, as the driver keeps it
std::mutex mu;                         // one driver call at a time: the emulator's state is global

// tagOf is the emulator's argument tag of a kernel parameter type.
template <class T>
constexpr uint8_t tagOf() {
    return std::is_pointer_v<T> ? kPtr : std::is_same_v<T, int> ? kI32 : std::is_same_v<T, long long> ? kI64 : kF64;
}

// argsOf reads the parameters of kernel k from the driver's parameter array, each through its pointer
// and with its own size, as the driver does.
template <class... P>
std::vector<Arg> argsOf(void (*)(P...), void** params) {
    std::vector<Arg> args;
    size_t i = 0;
    ((args.push_back(Arg{tagOf<P>(), [&] {
          uint64_t bits = 0;
          std::memcpy(&bits, params[i++], sizeof(P));
          return bits;
      }()})),
     ...);
    return args;
}

struct Function {
    const char* name;
    std::function<std::vector<Arg>(void**)> args;
};
#define FUNCTION(name) {#name, [](void** p) { return argsOf(name, p); }}
const Function functions[] = {FUNCTION(gemm),          FUNCTION(sparse_forward), FUNCTION(link),
                              FUNCTION(dloss),         FUNCTION(bias_gradient),  FUNCTION(sparse_gradient),
                              FUNCTION(update),        FUNCTION(gather),         FUNCTION(scatter),
                              FUNCTION(set_rows),      FUNCTION(fm_sums),        FUNCTION(fm_margin),
                              FUNCTION(fm_update),     FUNCTION(mlp_hidden1),    FUNCTION(mlp_hidden2),
                              FUNCTION(mlp_output),    FUNCTION(mlp_back1),      FUNCTION(mlp_dense_update),
                              FUNCTION(mlp_sparse_update)};

// guarded runs f under the lock with a current context, turning exceptions into error codes.
template <class F>
int guarded(F f, int onError = kInvalidValue) {
    if (current != kContext) return kInvalidContext;
    std::lock_guard lock(mu);
    try {
        return f();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake libcuda: %s\n", e.what());
        return onError;
    }
}

struct Program {
    std::string src, ptx, log;
};

}  // namespace

extern "C" {

// ---- The driver API, the entry points driver.go binds.

int cuInit(unsigned flags) { return flags == 0 ? kSuccess : kInvalidValue; }
int cuDriverGetVersion(int* v) { return *v = 13000, kSuccess; }
int cuDeviceGetCount(int* n) { return *n = 1, kSuccess; }
int cuDeviceGet(int* dev, int ordinal) { return ordinal == 0 ? (*dev = 0, kSuccess) : kInvalidDevice; }
int cuDeviceGetName(char* name, int len, int dev) {
    if (dev != 0 || len < 1) return kInvalidValue;
    std::snprintf(name, size_t(len), "%s", "Fake GPU (CPU emulator)");
    return kSuccess;
}
int cuDeviceTotalMem_v2(size_t* bytes, int dev) { return dev == 0 ? (*bytes = size_t(1) << 34, kSuccess) : kInvalidDevice; }
int cuDeviceGetAttribute(int* v, int attr, int dev) {
    if (dev != 0) return kInvalidDevice;
    switch (attr) {
        case 16: return *v = 4, kSuccess;  // multiprocessors
        case 75: return *v = 9, kSuccess;  // compute capability major
        case 76: return *v = 0, kSuccess;  // minor
    }
    return kInvalidValue;
}
int cuDevicePrimaryCtxRetain(void** ctx, int dev) { return dev == 0 ? (*ctx = kContext, kSuccess) : kInvalidDevice; }
int cuDevicePrimaryCtxRelease_v2(int dev) { return dev == 0 ? kSuccess : kInvalidDevice; }
int cuCtxSetCurrent(void* ctx) { return ctx == kContext ? (current = ctx, kSuccess) : kInvalidContext; }

int cuModuleLoadData(void** mod, const void* image) {
    return guarded([&] {
        const char* ptx = static_cast<const char*>(image);
        if (!std::strstr(ptx, ".version")) return kInvalidImage;  // not PTX
        *mod = kModule;
        return kSuccess;
    });
}
int cuModuleUnload(void* mod) { return mod == kModule ? kSuccess : kInvalidValue; }
int cuModuleGetFunction(const void** fn, void* mod, const char* name) {
    if (mod != kModule) return kInvalidValue;
    for (const Function& f : functions)
        if (std::strcmp(f.name, name) == 0) return *fn = &f, kSuccess;
    return kNotFound;
}

int cuMemAlloc_v2(uint64_t* p, size_t n) { return guarded([&] { return *p = alloc(n), kSuccess; }, kOutOfMemory); }
int cuMemFree_v2(uint64_t p) { return guarded([&] { return release(p), kSuccess; }); }
int cuMemAllocHost_v2(void** p, size_t n) {
    return guarded([&] { return (*p = std::aligned_alloc(4096, (n + 4095) / 4096 * 4096)) ? kSuccess : kOutOfMemory; });
}
int cuMemFreeHost(void* p) { return guarded([&] { return std::free(p), kSuccess; }); }
int cuMemcpyHtoDAsync_v2(uint64_t dst, const void* src, size_t n, void*) {
    return guarded([&] { return std::memcpy(span(dst, n), src, n), kSuccess; });
}
int cuMemcpyDtoHAsync_v2(void* dst, uint64_t src, size_t n, void*) {
    return guarded([&] { return std::memcpy(dst, span(src, n), n), kSuccess; });
}
int cuMemsetD8Async(uint64_t dst, unsigned char v, size_t n, void*) {
    return guarded([&] { return std::memset(span(dst, n), v, n), kSuccess; });
}
int cuMemGetInfo_v2(size_t* free, size_t* total) {
    return guarded([&] {
        uint64_t used = 0;
        for (auto [p, n] : allocs) used += n;
        *total = size_t(1) << 34;
        *free = *total - used;
        return kSuccess;
    });
}

int cuStreamCreate(void** s, unsigned) { return guarded([&] { return *s = new char, kSuccess; }); }
int cuStreamDestroy_v2(void* s) { return guarded([&] { return delete static_cast<char*>(s), kSuccess; }); }
int cuStreamWaitEvent(void*, void*, unsigned flags) { return flags == 0 ? kSuccess : kInvalidValue; }
int cuEventCreate(void** e, unsigned) { return guarded([&] { return *e = new char, kSuccess; }); }
int cuEventDestroy_v2(void* e) { return guarded([&] { return delete static_cast<char*>(e), kSuccess; }); }
int cuEventRecord(void*, void*) { return kSuccess; }
int cuEventSynchronize(void*) { return kSuccess; }

int cuLaunchKernel(const void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void*, void** params, void** extra) {
    return guarded(
        [&] {
            if (extra != nullptr || shared != 0 || params == nullptr) return kInvalidValue;
            const Function& f = *static_cast<const Function*>(fn);
            for (const Kernel& k : kernels) {
                if (std::strcmp(k.name, f.name) != 0) continue;
                launch(k, {gx, gy, gz}, {bx, by, bz}, k.bind(f.args(params), k.nullable));
                check_guards();
                return kSuccess;
            }
            return kNotFound;
        },
        kLaunchFailed);
}

int cuGetErrorName(int res, const char** name) {
    switch (res) {
        case kSuccess: return *name = "CUDA_SUCCESS", kSuccess;
        case kInvalidValue: return *name = "CUDA_ERROR_INVALID_VALUE", kSuccess;
        case kOutOfMemory: return *name = "CUDA_ERROR_OUT_OF_MEMORY", kSuccess;
        case kInvalidContext: return *name = "CUDA_ERROR_INVALID_CONTEXT", kSuccess;
        case kInvalidDevice: return *name = "CUDA_ERROR_INVALID_DEVICE", kSuccess;
        case kInvalidImage: return *name = "CUDA_ERROR_INVALID_IMAGE", kSuccess;
        case kNotFound: return *name = "CUDA_ERROR_NOT_FOUND", kSuccess;
        case kLaunchFailed: return *name = "CUDA_ERROR_LAUNCH_FAILED", kSuccess;
    }
    return kInvalidValue;
}

// ---- NVRTC, the entry points kernels.go binds. Compiling checks the options and that the source
// defines every kernel; the "PTX" only names the architecture.

int nvrtcVersion(int* major, int* minor) { return *major = 13, *minor = 0, 0; }
int nvrtcCreateProgram(Program** prog, const char* src, const char* name, int headers, const char* const*,
                       const char* const*) {
    if (!src || !name || headers != 0) return 3;  // NVRTC_ERROR_INVALID_INPUT
    *prog = new Program{src, "", ""};
    return 0;
}
int nvrtcCompileProgram(Program* prog, int nopts, const char* const* opts) {
    std::string arch;
    for (int i = 0; i < nopts; i++)
        if (std::strncmp(opts[i], "--gpu-architecture=", 19) == 0) arch = opts[i] + 19;
    if (arch.empty()) return prog->log = "fake nvrtc: no --gpu-architecture", 7;  // INVALID_OPTION
    for (const Function& f : functions)
        if (prog->src.find(std::string("__global__ void ") + f.name + "(") == std::string::npos)
            return prog->log = std::string("fake nvrtc: the source lacks kernel ") + f.name, 6;  // COMPILATION
    prog->ptx = "// fake PTX for " + arch + "\n.version 8.0\n";
    return 0;
}
int nvrtcGetPTXSize(Program* prog, size_t* n) { return *n = prog->ptx.size() + 1, 0; }
int nvrtcGetPTX(Program* prog, char* ptx) { return std::memcpy(ptx, prog->ptx.c_str(), prog->ptx.size() + 1), 0; }
int nvrtcGetProgramLogSize(Program* prog, size_t* n) { return *n = prog->log.size() + 1, 0; }
int nvrtcGetProgramLog(Program* prog, char* log) { return std::memcpy(log, prog->log.c_str(), prog->log.size() + 1), 0; }
int nvrtcDestroyProgram(Program** prog) { return delete *prog, *prog = nullptr, 0; }

}  // extern "C"
