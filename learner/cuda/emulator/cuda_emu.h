// cuda_emu.h: just enough of CUDA C for the kernels of ../kernels/learner.cu to compile with g++ and run
// on the CPU (see main.cpp). Every CUDA thread of a launch is one call of the kernel function with
// threadIdx, blockIdx, blockDim and gridDim set in thread_local variables. Blocks run one at a time, so
// __shared__ arrays can be static; the threads of a block run concurrently, with a barrier for
// __syncthreads, only for kernels that the dispatch table marks as synchronizing.
#pragma once

#include <atomic>
#include <barrier>
#include <cmath>  // exp, sqrt, fabs, fmax, copysign, INFINITY in the global namespace too
#include <math.h>
#include <stdexcept>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __constant__
#define __shared__ static
#define __launch_bounds__(...)
// #pragma unroll is an unknown pragma to g++, ignored (the build passes -Wno-unknown-pragmas).

// POSIX declares int link(const char*, const char*) in <unistd.h>, which <atomic> includes: the kernel
// of that name gets another C name here, and the dispatch table still calls it "link".
#define link emu_kernel_link

struct emu_uint3 {
    unsigned int x = 0, y = 0, z = 0;
};
inline thread_local emu_uint3 threadIdx, blockIdx, blockDim, gridDim;

// The barrier of the running block's threads; null while a kernel runs them one after another.
inline thread_local std::barrier<>* emu_block_barrier = nullptr;

inline void __syncthreads() {
    // Serial threads cannot wait for each other: the kernel's entry in the table must say it syncs.
    if (!emu_block_barrier) throw std::logic_error("__syncthreads in a kernel not marked as synchronizing");
    emu_block_barrier->arrive_and_wait();
}

template <class T>
inline T atomicAdd(T* address, T val) {
    return std::atomic_ref<T>(*address).fetch_add(val);
}
