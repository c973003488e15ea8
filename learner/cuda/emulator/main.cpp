// main.cpp: a CPU emulator of the CUDA device for the tests of package cuda (../emulator_test.go). It
// compiles the real kernels of ../kernels/learner.cu against cuda_emu.h and serves a parent process
// over stdin and stdout; device pointers are the emulator's own addresses.
//
// Protocol, little-endian. A request is op (u8), body length (u64), body; every request gets one reply:
// status (u8: 0 ok, 1 error), body length (u64), body (the result, or the error message). Requests:
//   1 alloc    u64 bytes                               -> u64 pointer (256-byte aligned)
//   2 free     u64 pointer
//   3 upload   u64 pointer, the bytes
//   4 download u64 pointer, u64 bytes                  -> the bytes
//   5 zero     u64 pointer, u64 bytes
//   6 launch   u16 name length, name, u32 grid x y z, u32 block x y z, u16 argument count, then per
//              argument a tag (u8: 0 device pointer, 1 int32, 2 int64, 3 float64) and 8 bytes of value
//   7 quit     (the emulator replies, then exits)
// Copies must lie inside one allocation, and pointer arguments point into one. New memory is filled
// with 0xff bytes (NaN as doubles) so that reading it uninitialized shows; 256 guard bytes after each
// allocation are checked after each launch, so that writing past the end is an error too.
#include <fcntl.h>

#include <bit>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_emu.h"
#include "../kernels/learner.cu"

static_assert(std::endian::native == std::endian::little, "the protocol is little-endian");

namespace {

enum Op : uint8_t { kAlloc = 1, kFree, kUpload, kDownload, kZero, kLaunch, kQuit };
enum Tag : uint8_t { kPtr = 0, kI32, kI64, kF64 };
const char* const kTagNames[] = {"devPtr", "int32", "int64", "float64"};

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// fail throws an Error whose message is its arguments written one after another.
template <class... T>
[[noreturn]] void fail(const T&... parts) {
    std::ostringstream s;
    s << std::hex << std::showbase;
    (s << ... << parts);
    throw Error(s.str());
}

// ---- Memory.

constexpr size_t kAlign = 256, kGuard = 256;
constexpr unsigned char kGuardByte = 0xa5;
std::map<uint64_t, uint64_t> allocs;  // live allocations: address -> size asked for

// guard_end returns where the guard bytes after an allocation of n bytes end.
uint64_t guard_end(uint64_t n) { return (n + kGuard + kAlign - 1) / kAlign * kAlign; }

uint64_t alloc(uint64_t n) {
    if (n == 0) fail("alloc of 0 bytes");
    if (n > (uint64_t(1) << 40)) fail("alloc of ", std::dec, n, " bytes is too large");
    auto* p = static_cast<unsigned char*>(std::aligned_alloc(kAlign, guard_end(n)));
    if (!p) fail("out of memory allocating ", std::dec, n, " bytes");
    std::memset(p, 0xff, n);
    std::memset(p + n, kGuardByte, guard_end(n) - n);
    allocs[reinterpret_cast<uint64_t>(p)] = n;
    return reinterpret_cast<uint64_t>(p);
}

void release(uint64_t p) {
    auto it = allocs.find(p);
    if (it == allocs.end()) fail("free of ", p, ", which is not an allocation");
    std::free(reinterpret_cast<void*>(p));
    allocs.erase(it);
}

// span returns p after checking that the n bytes from p lie in one allocation.
unsigned char* span(uint64_t p, uint64_t n) {
    auto it = allocs.upper_bound(p);
    if (p == 0) fail("null pointer");
    if (it == allocs.begin() || (--it, p - it->first > it->second) || n > it->second - (p - it->first))
        fail(std::dec, n, " bytes at ", std::hex, p, " are not inside an allocation");
    return reinterpret_cast<unsigned char*>(p);
}

// check_guards reports (and repairs) the first allocation whose guard bytes were overwritten.
void check_guards() {
    for (auto [p, n] : allocs) {
        auto* b = reinterpret_cast<unsigned char*>(p);
        for (uint64_t i = n; i < guard_end(n); i++)
            if (b[i] != kGuardByte) {
                std::memset(b + n, kGuardByte, guard_end(n) - n);
                fail("wrote past the end of the allocation at ", p, " (", std::dec, n, " bytes), at offset ", i);
            }
    }
}

// ---- Kernel arguments and the dispatch table.

struct Arg {
    uint8_t tag;
    uint64_t bits;
};

using Thunk = std::function<void()>;  // a kernel bound to its arguments: one CUDA thread's work

// convert returns argument i as parameter type T, after checking its tag (and its pointer).
template <class T>
T convert(const Arg& a, size_t i, uint32_t nullable) {
    constexpr Tag want = std::is_pointer_v<T> ? kPtr
                         : std::is_same_v<T, int> ? kI32
                         : std::is_same_v<T, long long> ? kI64
                                                        : kF64;
    static_assert(std::is_pointer_v<T> || std::is_same_v<T, int> || std::is_same_v<T, long long> ||
                  std::is_same_v<T, double>, "a kernel parameter type the emulator does not convert");
    if (a.tag != want)
        fail("argument ", std::dec, i, " is ", a.tag < 4 ? kTagNames[a.tag] : "of an unknown tag", ", want ",
             kTagNames[want]);
    if constexpr (std::is_pointer_v<T>) {
        if (a.bits == 0) {
            if (!(nullable >> i & 1)) fail("argument ", std::dec, i, " is a null pointer");
            return nullptr;
        }
        span(a.bits, 0);
        return reinterpret_cast<T>(a.bits);
    } else if constexpr (std::is_same_v<T, int>) {
        return static_cast<int>(static_cast<uint32_t>(a.bits));
    } else if constexpr (std::is_same_v<T, long long>) {
        return static_cast<long long>(a.bits);
    } else {
        return std::bit_cast<double>(a.bits);
    }
}

// binder returns a function that checks the arguments of kernel k against its C signature and binds them.
template <class... P>
auto binder(void (*k)(P...)) {
    return [k](const std::vector<Arg>& args, uint32_t nullable) -> Thunk {
        if (args.size() != sizeof...(P)) fail(std::dec, args.size(), " arguments, want ", sizeof...(P));
        return [&]<size_t... I>(std::index_sequence<I...>) -> Thunk {
            // Braces evaluate the conversions in order, so the first bad argument is the one reported.
            return [k, vals = std::tuple<P...>{convert<P>(args[I], I, nullable)...}] { std::apply(k, vals); };
        }(std::index_sequence_for<P...>{});
    };
}

struct Kernel {
    const char* name;
    bool syncs;         // calls __syncthreads: the threads of a block run concurrently
    uint32_t nullable;  // bit i set: parameter i may be a null pointer
    std::function<Thunk(const std::vector<Arg>&, uint32_t)> bind;
};

#define KERNEL(name, syncs, nullable) {#name, syncs, nullable, binder(name)}
const Kernel kernels[] = {
    KERNEL(gemm, true, 1u << 7),  // bias may be null
    KERNEL(sparse_forward, false, 0),
    KERNEL(link, false, 0),
    KERNEL(dloss, false, 0),
    KERNEL(bias_gradient, true, 0),
    KERNEL(sparse_gradient, false, 0),
    KERNEL(update, false, 0),
    KERNEL(gather, false, 0),
    KERNEL(scatter, false, 0),
    KERNEL(set_rows, false, 0),
    KERNEL(fm_sums, false, 0),
    KERNEL(fm_margin, false, 1u << 4 | 1u << 6),  // labels and G: none when only scoring
    KERNEL(fm_update, false, 0),
    KERNEL(mlp_hidden1, false, 0),
    KERNEL(mlp_hidden2, false, 0),
    KERNEL(mlp_output, false, 1u << 5 | 1u << 7 | 1u << 8),  // labels, G and Dl: none when only scoring
    KERNEL(mlp_back1, false, 0),
    KERNEL(mlp_dense_update, false, 0),
    KERNEL(mlp_sparse_update, false, 0),
};

// ---- Running a launch.

// Pool runs the threads of one block concurrently on persistent OS threads.
class Pool {
  public:
    // run calls body(i) for i < n, each on its own thread, and returns when all have returned.
    void run(unsigned n, const std::function<void(unsigned)>& body) {
        while (workers_ < n) std::thread(&Pool::work, this, workers_++, generation_).detach();
        std::unique_lock lock(mu_);
        body_ = &body;
        active_ = pending_ = n;
        generation_++;
        start_.notify_all();
        done_.wait(lock, [&] { return pending_ == 0; });
    }

  private:
    void work(unsigned i, uint64_t seen) {
        std::unique_lock lock(mu_);
        for (;;) {
            start_.wait(lock, [&] { return generation_ != seen; });
            seen = generation_;
            if (i >= active_) continue;
            lock.unlock();
            (*body_)(i);
            lock.lock();
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::mutex mu_;
    std::condition_variable start_, done_;
    const std::function<void(unsigned)>* body_ = nullptr;
    unsigned workers_ = 0, active_ = 0, pending_ = 0;
    uint64_t generation_ = 0;
};
Pool& pool = *new Pool;  // never destroyed: its threads are still waiting at exit

void set_thread(unsigned i, const emu_uint3& block, const emu_uint3& grid, const emu_uint3& b) {
    threadIdx = {i % block.x, i / block.x % block.y, i / (block.x * block.y)};
    blockDim = block;
    gridDim = grid;
    blockIdx = b;
}

void launch(const Kernel& k, const emu_uint3& grid, const emu_uint3& block, const Thunk& thread) {
    // The limits of every CUDA device since compute capability 3.0.
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
        fail("bad grid ", std::dec, grid.x, "x", grid.y, "x", grid.z);
    const uint64_t n = uint64_t(block.x) * block.y * block.z;
    if (n == 0 || n > 1024 || block.z > 64) fail("bad block ", std::dec, block.x, "x", block.y, "x", block.z);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                const emu_uint3 b{x, y, z};
                if (!k.syncs) {
                    for (unsigned i = 0; i < n; i++) {
                        set_thread(i, block, grid, b);
                        thread();
                    }
                    continue;
                }
                std::barrier<> sync(n);
                pool.run(n, [&](unsigned i) {
                    set_thread(i, block, grid, b);
                    emu_block_barrier = &sync;
                    thread();
                    emu_block_barrier = nullptr;
                    sync.arrive_and_drop();  // a finished thread no longer holds up __syncthreads
                });
            }
}

// ---- Requests.

// Reader takes values from a request's body.
struct Reader {
    const unsigned char* p;
    size_t left;

    template <class T>
    T get() {
        if (left < sizeof(T)) fail("request too short");
        T v;
        std::memcpy(&v, p, sizeof(T));
        p += sizeof(T), left -= sizeof(T);
        return v;
    }
    void end() const {
        if (left != 0) fail("request too long by ", std::dec, left, " bytes");
    }
};

std::string u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

std::string launch_request(Reader& in) {
    std::string name(in.get<uint16_t>(), '\0');
    for (char& c : name) c = in.get<char>();
    emu_uint3 grid{in.get<uint32_t>(), in.get<uint32_t>(), in.get<uint32_t>()};
    emu_uint3 block{in.get<uint32_t>(), in.get<uint32_t>(), in.get<uint32_t>()};
    std::vector<Arg> args(in.get<uint16_t>());
    for (Arg& a : args) a = {in.get<uint8_t>(), in.get<uint64_t>()};
    in.end();
    for (const Kernel& k : kernels) {
        if (name != k.name) continue;
        try {
            launch(k, grid, block, k.bind(args, k.nullable));
            check_guards();
        } catch (const std::exception& e) {
            fail("kernel ", name, ": ", e.what());
        }
        return "";
    }
    fail("unknown kernel ", name);
}

// handle serves one request and returns the reply's body.
std::string handle(uint8_t op, Reader in) {
    switch (op) {
        case kAlloc: {
            uint64_t n = in.get<uint64_t>();
            in.end();
            return u64(alloc(n));
        }
        case kFree: {
            uint64_t p = in.get<uint64_t>();
            in.end();
            release(p);
            return "";
        }
        case kUpload: {
            uint64_t p = in.get<uint64_t>();
            std::memcpy(span(p, in.left), in.p, in.left);
            return "";
        }
        case kDownload: {
            uint64_t p = in.get<uint64_t>(), n = in.get<uint64_t>();
            in.end();
            return std::string(reinterpret_cast<const char*>(span(p, n)), n);
        }
        case kZero: {
            uint64_t p = in.get<uint64_t>(), n = in.get<uint64_t>();
            in.end();
            std::memset(span(p, n), 0, n);
            return "";
        }
        case kLaunch:
            return launch_request(in);
        case kQuit:
            in.end();
            return "";
    }
    fail("unknown op ", std::dec, int(op));
}

bool read_full(void* p, size_t n) { return std::fread(p, 1, n, stdin) == n; }

}  // namespace

#ifndef EMU_NO_MAIN  // fake_driver.cpp reuses all of the above as a library
int main() {
    // The parent may hand over non-blocking pipes; this loop wants blocking reads and writes.
    for (int fd : {0, 1}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    std::vector<unsigned char> body;
    for (;;) {
        uint8_t op;
        uint64_t n;
        if (!read_full(&op, 1) || !read_full(&n, 8)) break;  // the parent is gone
        body.resize(n);
        if (!read_full(body.data(), n)) break;
        uint8_t status = 0;
        std::string reply;
        try {
            reply = handle(op, Reader{body.data(), n});
        } catch (const std::exception& e) {
            status = 1;
            reply = e.what();
        }
        uint64_t len = reply.size();
        std::fwrite(&status, 1, 1, stdout);
        std::fwrite(&len, 8, 1, stdout);
        std::fwrite(reply.data(), 1, len, stdout);
        if (std::fflush(stdout) != 0) break;
        if (op == kQuit && status == 0) break;
    }
    std::fflush(stdout);
    std::_Exit(0);  // skip destructors: the pool's threads are still waiting
}
#endif
