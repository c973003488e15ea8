// Kernels of the CUDA learner backend: the minibatch math of K linear models trained at once.
//
// Layout (see ../models.go): the models' state is four arrays z, s, w, g of (dim+1) rows by N = K*O
// columns, row-major, row dim being the bias. Column n is output n%O of model n/O, so that the K
// models reading one input slot read one contiguous row: the population is one matrix, a dense batch
// times the weights is one matrix product, and a warp over n touches consecutive addresses.
// Margins and loss gradients of a batch are rows by N (M below). Everything is double precision, as
// on the CPU backend, so that the two agree to rounding.
//
// Every kernel is extern "C" with plain arguments so that the host can launch it through the driver
// API by name; they must compile both with NVRTC/nvcc and with the CPU emulator used by the tests.

#define OBJ_LOGISTIC 0
#define OBJ_SQUARED 1
#define OBJ_HUBER 2
#define OBJ_SOFTMAX 3

#define OPT_FTRL 0
#define OPT_ADAGRAD 1

// Tile of the matrix product: TM x TN outputs per block of 256 threads, each thread computing a
// 4 x 4 micro-tile, TK along the summed dimension per step.
#define TM 64
#define TN 64
#define TK 16

// gemm computes C[m*ldc + n] = init + sum over k < kdim of A(m, k) * B[k*ldb + n] for m < mdim, n < ndim,
// where A(m, k) = A[m*sam + k*sak] (so that A or its transpose can be read in place) and init is
// C's own value when accumulate is set, else bias[n] when bias is given, else 0.
//   forward (dense):  A = X (rows x width), B = W, C = M, init = bias row.
//   gradient (dense): A = X transposed, B = D (rows x N), C = G, accumulating.
// The gradient's output is small (width x N) and its sum long (the batch's rows), so it is split along
// k over gridDim.z blocks (split-K), each adding its partial sums atomically; that needs accumulate.
extern "C" __global__ void gemm(const double* A, long long sam, long long sak, const double* B, long long ldb,
                                double* C, long long ldc, const double* bias, int mdim, int ndim, int kdim,
                                int accumulate) {
    __shared__ double As[TK][TM + 1];
    __shared__ double Bs[TK][TN];
    const int tid = threadIdx.x;
    const int tr = tid / 16, tc = tid % 16;  // this thread's micro-tile: rows tr*4.., columns tc*4..
    const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
    double acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0;

    // This block's share of k: whole tiles, [kbeg, kend).
    const int chunk = ((kdim + (int)gridDim.z - 1) / (int)gridDim.z + TK - 1) / TK * TK;
    const int kbeg = blockIdx.z * chunk, kend = kbeg + chunk < kdim ? kbeg + chunk : kdim;
    for (int k0 = kbeg; k0 < kend; k0 += TK) {
        // A tile: TM x TK values, 4 per thread; walk the unit-stride dimension across the warp.
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int e = tid + i * 256, mm, kk;
            if (sak == 1) {
                kk = e % TK;
                mm = e / TK;
            } else {
                mm = e % TM;
                kk = e / TM;
            }
            int m = m0 + mm, k = k0 + kk;
            As[kk][mm] = (m < mdim && k < kend) ? A[(long long)m * sam + (long long)k * sak] : 0.0;
        }
        // B tile: TK x TN values, row-major.
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int e = tid + i * 256;
            int kk = e / TN, nn = e % TN;
            int k = k0 + kk, n = n0 + nn;
            Bs[kk][nn] = (k < kend && n < ndim) ? B[(long long)k * ldb + n] : 0.0;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TK; kk++) {
            double a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = As[kk][tr * 4 + i];
#pragma unroll
            for (int j = 0; j < 4; j++) b[j] = Bs[kk][tc * 4 + j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int m = m0 + tr * 4 + i;
        if (m >= mdim) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int n = n0 + tc * 4 + j;
            if (n >= ndim) continue;
            double* c = &C[(long long)m * ldc + n];
            if (gridDim.z > 1) {
                atomicAdd(c, acc[i][j]);
            } else {
                double init = accumulate ? *c : (bias ? bias[n] : 0.0);
                *c = init + acc[i][j];
            }
        }
    }
}

// sparse_forward writes the margins of a CSR batch: M[r*N + n] = bias[n] + sum_i vals[i] * W[cols[i]*N + n]
// over the entries i of row r. One thread per (row, column), columns fastest, so a warp reads each
// weight row contiguously.
extern "C" __global__ void sparse_forward(const int* rowptr, const int* cols, const double* vals, int rows,
                                          const double* W, const double* bias, int N, double* M) {
    long long total = (long long)rows * N;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int r = (int)(t / N), n = (int)(t % N);
        double m = bias[n];
        for (int i = rowptr[r]; i < rowptr[r + 1]; i++) m += W[(long long)cols[i] * N + n] * vals[i];
        M[t] = m;
    }
}

// link turns the margins of row r, model k (O values at M[r*N + k*O]) into the model's outputs and
// writes them, model-major as the host expects them, at P[(k*rows + r)*O]: probabilities for logistic
// and softmax, the margin itself for regression. One thread per (row, model).
extern "C" __global__ void link(const double* M, int rows, int K, int O, int objective, double* P) {
    long long total = (long long)rows * K;
    const int N = K * O;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int r = (int)(t / K), k = (int)(t % K);
        const double* m = &M[(long long)r * N + k * O];
        double* p = &P[((long long)k * rows + r) * O];
        if (objective == OBJ_LOGISTIC) {
            p[0] = 1.0 / (1.0 + exp(-m[0]));
        } else if (objective == OBJ_SOFTMAX) {
            double top = m[0], sum = 0;  // NVRTC has no INFINITY: start from the first margin
            for (int o = 1; o < O; o++) top = fmax(top, m[o]);
            for (int o = 0; o < O; o++) {
                p[o] = exp(m[o] - top);
                sum += p[o];
            }
            for (int o = 0; o < O; o++) p[o] /= sum;
        } else {
            p[0] = m[0];
        }
    }
}

// dloss writes the loss gradients with respect to the margins, D[r*N + k*O + o], from the outputs P
// (model-major, as link writes them) and the labels: the class index for softmax, the target otherwise.
// Labels were checked on the host. One thread per (row, model).
extern "C" __global__ void dloss(const double* P, const double* labels, int rows, int K, int O, int objective,
                                 double delta, double* D) {
    long long total = (long long)rows * K;
    const int N = K * O;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int r = (int)(t / K), k = (int)(t % K);
        const double* p = &P[((long long)k * rows + r) * O];
        double* d = &D[(long long)r * N + k * O];
        double y = labels[r];
        if (objective == OBJ_SOFTMAX) {
            int c = (int)y;
            for (int o = 0; o < O; o++) d[o] = p[o] - (o == c ? 1.0 : 0.0);
        } else if (objective == OBJ_HUBER) {
            double e = p[0] - y;
            d[0] = e > delta ? delta : (e < -delta ? -delta : e);
        } else {
            d[0] = p[0] - y;
        }
    }
}

// bias_gradient adds the column sums of D (rows x N) to the bias row of the pending gradient. A block
// of 256 threads takes 32 columns (blockIdx.x) and 8 lanes of rows; blocks along y split the rows
// further. Lanes are reduced in shared memory and each block adds its sums atomically, so that one
// column (K = 1) still spreads over hundreds of threads. Launch with 256 threads per block.
extern "C" __global__ void bias_gradient(const double* D, int rows, int N, double* gbias) {
    __shared__ double part[8][32];
    const int col = threadIdx.x % 32, lane = threadIdx.x / 32;
    const int n = blockIdx.x * 32 + col;
    double sum = 0;
    if (n < N)
        for (int r = blockIdx.y * 8 + lane; r < rows; r += gridDim.y * 8) sum += D[(long long)r * N + n];
    part[lane][col] = sum;
    __syncthreads();
    if (lane == 0 && n < N) {
        for (int l = 1; l < 8; l++) sum += part[l][col];
        atomicAdd(&gbias[n], sum);
    }
}

// sparse_gradient adds vals[i] * D[r*N + n] to G[cols[i]*N + n] for every entry i of every row r. Rows
// of a batch share columns, so the adds are atomic. One thread per (row, column).
extern "C" __global__ void sparse_gradient(const int* rowptr, const int* cols, const double* vals, int rows,
                                           const double* D, int N, double* G) {
    long long total = (long long)rows * N;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int r = (int)(t / N), n = (int)(t % N);
        double d = D[t];
        if (d == 0) continue;
        for (int i = rowptr[r]; i < rowptr[r + 1]; i++) atomicAdd(&G[(long long)cols[i] * N + n], vals[i] * d);
    }
}

// update applies and clears the pending gradient of the touched rows (input slots; the bias row is
// slot dim) with each model's optimizer. hyper holds five values per model k, prepared on the host for
// this step: 1/alpha, beta, learning rate, l1, l2; the bias is not regularized. The arithmetic is the
// CPU backend's, line for line (learner/optimizer.go). One thread per (touched row, column).
extern "C" __global__ void update(const int* touched, int T, int N, int O, int dim, int optimizer,
                                  const double* hyper, double* z, double* s, double* w, double* g) {
    long long total = (long long)T * N;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int row = touched[t / N], n = (int)(t % N);
        long long i = (long long)row * N + n;
        double gi = g[i];
        if (gi == 0) continue;
        const double* h = &hyper[(n / O) * 5];
        double invAlpha = h[0], beta = h[1], rate = h[2], l1 = h[3], l2 = h[4];
        if (row == dim) l1 = l2 = 0;
        double si = s[i], wi = w[i];
        if (optimizer == OPT_ADAGRAD) {
            double gr = gi + l2 * wi;
            if (gr != 0) {
                double s2 = sqrt(si * si + gr * gr);
                double eta = rate / s2;
                double w2 = wi - eta * gr;
                if (l1 > 0) {
                    double t1 = eta * l1;
                    w2 = w2 > t1 ? w2 - t1 : (w2 < -t1 ? w2 + t1 : 0.0);
                }
                s[i] = s2;
                w[i] = w2;
            }
        } else {
            double s2 = sqrt(si * si + gi * gi);
            double z2 = z[i] + gi - (s2 - si) * invAlpha * wi;
            z[i] = z2;
            s[i] = s2;
            w[i] = fabs(z2) <= l1 ? 0.0 : -(z2 - copysign(l1, z2)) / ((beta + s2) * invAlpha + l2);
        }
        g[i] = 0;
    }
}

// gather copies model k's values out of a state array: dst[row*O + o] = src[row*N + k*O + o] for
// rows < nrows, the layout of learner.Models.Weights.
extern "C" __global__ void gather(const double* src, int nrows, int N, int O, int k, double* dst) {
    long long total = (long long)nrows * O;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        long long row = t / O;
        int o = (int)(t % O);
        dst[t] = src[row * N + (long long)k * O + o];
    }
}

// scatter is gather's inverse, for loading a checkpoint: dst[row*N + k*O + o] = src[row*O + o].
extern "C" __global__ void scatter(const double* src, int nrows, int N, int O, int k, double* dst) {
    long long total = (long long)nrows * O;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        long long row = t / O;
        int o = (int)(t % O);
        dst[row * N + (long long)k * O + o] = src[t];
    }
}
