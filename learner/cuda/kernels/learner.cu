// Kernels of the CUDA learner backend: the minibatch math of K linear models trained at once, and of
// one factorization machine or MLP ("Non-linear families", below).
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

// ---- Non-linear families: a factorization machine (FM) and a small MLP, one model each, learned in
// minibatches exactly as learner.Family.LearnBatch does on the CPU (learner/fm.go, learner/mlp.go).
//
// Batches are CSR rows (rowptr, cols, vals) of model input slots. The update kernels walk the batch
// by slot: the host lists the distinct slots of the batch (trows, T of them) and, per slot j, the
// entries that name it (tent[tptr[j]..tptr[j+1]], their rows in tex), in batch order. One thread per
// (slot, column) sums its gradient over those entries in the CPU's order and applies the optimizer:
// no atomics, so the result does not depend on scheduling, and the sums are the CPU's, term for term.
// Rows of a minibatch (activations, margins, gradients) are laid out row-major, one row per example.

// finite_d is the CPU's finite(): false for NaN and the infinities.
__device__ __forceinline__ bool finite_d(double x) { return x - x == 0; }

// sigmoid_grad is the log-loss gradient of margin m for label y, NaN margins taken as 0 (saneMargin).
__device__ __forceinline__ double sigmoid_grad(double m, double y) {
    if (m != m) m = 0;
    return 1.0 / (1.0 + exp(-m)) - y;
}

// adagrad_step is learner/fm.go's adagrad: a step that would make w or a non-finite is left out and
// counted.
__device__ __forceinline__ void adagrad_step(double* w, double* a, double g, double lr, unsigned long long* skip) {
    if (g == 0) return;
    double a2 = *a + g * g;
    double w2 = *w - lr * g / sqrt(a2);
    if (!finite_d(a2) || !finite_d(w2)) {
        atomicAdd(skip, 1ULL);
        return;
    }
    *w = w2;
    *a = a2;
}

// set_rows writes n initial rows of S values, src[i*S + c], into dst[rows[i]*S + c]: the weights of
// the slots a batch touches for the first time, computed on the host.
extern "C" __global__ void set_rows(const int* rows, int n, int S, const double* src, double* dst) {
    long long total = (long long)n * S;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int i = (int)(t / S), c = (int)(t % S);
        dst[(long long)rows[i] * S + c] = src[t];
    }
}

// fm_sums computes, per row r and column c of an FM's rows (S = 1 + factors, state P of (dim+1) x S with
// w0 at P[dim*S]): for c = 0 the linear term w0 + sum_i w_i x_i, for c = 1+f the factor sums
// s_f = sum_i v_if x_i and q_f = sum_i (v_if x_i)^2, into X[r*S + c] and Q[r*S + c]. One thread per
// (row, column), each summing in the order of the row's entries.
extern "C" __global__ void fm_sums(const int* rowptr, const int* cols, const double* vals, int rows, int S,
                                   const double* P, int dim, double* X, double* Q) {
    long long total = (long long)rows * S;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int r = (int)(t / S), c = (int)(t % S);
        if (c == 0) {
            double lin = P[(long long)dim * S];
            for (int i = rowptr[r]; i < rowptr[r + 1]; i++) lin += P[(long long)cols[i] * S] * vals[i];
            X[t] = lin;
            continue;
        }
        double s = 0, q = 0;
        for (int i = rowptr[r]; i < rowptr[r + 1]; i++) {
            double vx = P[(long long)cols[i] * S + c] * vals[i];
            s += vx;
            q += vx * vx;
        }
        X[t] = s;
        Q[t] = q;
    }
}

// fm_margin turns fm_sums' sums into the margin of each row, lin + 1/2 sum_f (s_f^2 - q_f), into M[r],
// and, when labels are given, the log-loss gradient of the margin into G[r]. One thread per row.
extern "C" __global__ void fm_margin(const double* X, const double* Q, int rows, int S, const double* labels,
                                     double* M, double* G) {
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows;
         r += (long long)gridDim.x * blockDim.x) {
        double m = X[r * S];
        for (int c = 1; c < S; c++) {
            double s = X[r * S + c];
            m += 0.5 * (s * s - Q[r * S + c]);
        }
        M[r] = m;
        if (labels) G[r] = sigmoid_grad(m, labels[r]);
    }
}

// fm_update sums the gradient of each (distinct slot of the batch, column) over the slot's entries and
// takes an AdaGrad step with it plus l2 times the weight; thread (T, 0) does the bias w0, the sum of
// G, unregularized. The gradient of w is g x, that of v_f is g x (s_f - v_f x) (Rendle 2010), at the
// state from before the step: a thread reads and writes its own (slot, column) of P only.
extern "C" __global__ void fm_update(const int* trows, const int* tptr, const int* tent, const int* tex, int T,
                                     const double* vals, int rows, int S, int dim, const double* X,
                                     const double* G, double lr, double l2, double* P, double* A,
                                     unsigned long long* skip) {
    long long total = (long long)(T + 1) * S;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int j = (int)(t / S), c = (int)(t % S);
        if (j == T) {
            if (c != 0) continue;
            double g = 0;
            for (int r = 0; r < rows; r++) g += G[r];
            long long b = (long long)dim * S;
            adagrad_step(&P[b], &A[b], g, lr, skip);
            continue;
        }
        long long at = (long long)trows[j] * S + c;
        double v = P[at], g = 0;
        for (int e = tptr[j]; e < tptr[j + 1]; e++) {
            int r = tex[e];
            double x = vals[tent[e]], gx = G[r] * x;
            g += c == 0 ? gx : gx * (X[(long long)r * S + c] - v * x);
        }
        adagrad_step(&P[at], &A[at], g + l2 * v, lr, skip);
    }
}

// adam_step is learner/mlp.go's adam, with the CPU's constants passed in h: lr, l2, beta1, 1-beta1,
// beta2, 1-beta2, eps, 1-beta1^t, 1-beta2^t, 1/rows (the host computes them, so that they are the same
// numbers in Go and here).
#define ADAM_LR 0
#define ADAM_L2 1
#define ADAM_B1 2
#define ADAM_1B1 3
#define ADAM_B2 4
#define ADAM_1B2 5
#define ADAM_EPS 6
#define ADAM_C1 7
#define ADAM_C2 8
#define ADAM_INV 9
#define ADAM_CONSTANTS 10
__device__ __forceinline__ void adam_step(double* w, double* mo, double* v, double g, const double* h,
                                          unsigned long long* skip) {
    if (g == 0 && *mo == 0) return;
    double m2 = h[ADAM_B1] * *mo + h[ADAM_1B1] * g;
    double v2 = h[ADAM_B2] * *v + h[ADAM_1B2] * g * g;
    double w2 = *w - h[ADAM_LR] * (m2 / h[ADAM_C1]) / (sqrt(v2 / h[ADAM_C2]) + h[ADAM_EPS]);
    if (!finite_d(m2) || !finite_d(v2) || !finite_d(w2)) {
        atomicAdd(skip, 1ULL);
        return;
    }
    *w = w2;
    *mo = m2;
    *v = v2;
}

// mlp_hidden1 is the sparse first layer of an MLP: A1[r*h1 + j] = tanh(b1[j] + sum_i x_i W1[slot_i*h1 + j]),
// summed in the order of the row's entries. One thread per (row, unit).
extern "C" __global__ void mlp_hidden1(const int* rowptr, const int* cols, const double* vals, int rows, int h1,
                                       const double* W1, const double* b1, double* A1) {
    long long total = (long long)rows * h1;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int r = (int)(t / h1), j = (int)(t % h1);
        double a = b1[j];
        for (int i = rowptr[r]; i < rowptr[r + 1]; i++) a += vals[i] * W1[(long long)cols[i] * h1 + j];
        A1[t] = tanh(a);
    }
}

// mlp_hidden2 is the dense second layer: A2[r*h2 + k] = tanh(b2[k] + sum_j A1[r*h1 + j] W2[j*h2 + k]),
// summed over j in order. One thread per (row, unit).
extern "C" __global__ void mlp_hidden2(const double* A1, int rows, int h1, int h2, const double* W2,
                                       const double* b2, double* A2) {
    long long total = (long long)rows * h2;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        long long r = t / h2;
        int k = (int)(t % h2);
        double a = b2[k];
        for (int j = 0; j < h1; j++) a += A1[r * h1 + j] * W2[(long long)j * h2 + k];
        A2[t] = tanh(a);
    }
}

// mlp_output writes the margin of each row, bo + sum_j last_j wo_j over the last hidden layer (L
// units), into M[r] and, with labels, the log-loss gradient into G[r] and the gradient of the last
// layer's pre-activations, G[r] wo_j (1 - last_j^2), into Dl[r*L + j]. One thread per row.
extern "C" __global__ void mlp_output(const double* last, int rows, int L, const double* wo, const double* bo,
                                      const double* labels, double* M, double* G, double* Dl) {
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows;
         r += (long long)gridDim.x * blockDim.x) {
        const double* a = &last[r * L];
        double m = bo[0];
        for (int j = 0; j < L; j++) m += a[j] * wo[j];
        M[r] = m;
        if (!labels) continue;
        double g = sigmoid_grad(m, labels[r]);
        G[r] = g;
        for (int j = 0; j < L; j++) Dl[r * L + j] = g * wo[j] * (1 - a[j] * a[j]);
    }
}

// mlp_back1 carries the gradient back through the second layer: D1[r*h1 + j] =
// (sum_k W2[j*h2 + k] Dl[r*h2 + k]) (1 - A1[r*h1 + j]^2). One thread per (row, unit).
extern "C" __global__ void mlp_back1(const double* A1, const double* Dl, int rows, int h1, int h2,
                                     const double* W2, double* D1) {
    long long total = (long long)rows * h1;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        long long r = t / h1;
        int j = (int)(t % h1);
        double s = 0;
        for (int k = 0; k < h2; k++) s += W2[(long long)j * h2 + k] * Dl[r * h2 + k];
        double a = A1[t];
        D1[t] = s * (1 - a * a);
    }
}

// mlp_dense_update sums the gradient of each dense parameter (layout of learner.MLPLayout: b1, w2, b2,
// wo, bo at offsets lay[0..4]) over the rows of the batch, in order, and takes an Adam step with its
// mean; the gradient of w2 comes from Gw2 (a GEMM, A1 transposed times Dl). Dense parameters are not
// regularized. One thread per parameter.
extern "C" __global__ void mlp_dense_update(const int* lay, int size, int rows, int h1, int h2, int L,
                                            const double* last, const double* G, const double* Dl,
                                            const double* D1, const double* Gw2, const double* h, double* W,
                                            double* Mo, double* V, unsigned long long* skip) {
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < size;
         t += (long long)gridDim.x * blockDim.x) {
        int p = (int)t;
        double g = 0;
        if (p >= lay[4]) {  // bo
            for (int r = 0; r < rows; r++) g += G[r];
        } else if (p >= lay[3]) {  // wo
            int j = p - lay[3];
            for (int r = 0; r < rows; r++) g += G[r] * last[(long long)r * L + j];
        } else if (p >= lay[2]) {  // b2
            int k = p - lay[2];
            for (int r = 0; r < rows; r++) g += Dl[(long long)r * h2 + k];
        } else if (p >= lay[1]) {  // w2
            g = Gw2[p - lay[1]];
        } else {  // b1
            for (int r = 0; r < rows; r++) g += D1[(long long)r * h1 + p];
        }
        adam_step(&W[p], &Mo[p], &V[p], g * h[ADAM_INV], h, skip);
    }
}

// mlp_sparse_update sums the first-layer gradient of each (distinct slot of the batch, unit), x D1,
// over the slot's entries (see fm_update) and takes an Adam step with its mean plus l2 times the weight.
extern "C" __global__ void mlp_sparse_update(const int* trows, const int* tptr, const int* tent, const int* tex,
                                             int T, const double* vals, int h1, const double* D1, const double* h,
                                             double* W1, double* M1, double* V1, unsigned long long* skip) {
    long long total = (long long)T * h1;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int j = (int)(t / h1), u = (int)(t % h1);
        double g = 0;
        for (int e = tptr[j]; e < tptr[j + 1]; e++) g += vals[tent[e]] * D1[(long long)tex[e] * h1 + u];
        long long at = (long long)trows[j] * h1 + u;
        adam_step(&W1[at], &M1[at], &V1[at], g * h[ADAM_INV] + h[ADAM_L2] * W1[at], h, skip);
    }
}
