// Package learner holds the models that streamlearn learns online: binary logistic regression, linear
// regression (squared or Huber loss) and multinomial softmax over hashed, online-standardized features,
// trained one example at a time with FTRL-Proximal or AdaGrad (the linear family); and, for binary
// tasks, the non-linear families of Spec.Family (family.go): a factorization machine, a small MLP, a
// Hoeffding tree and an adaptive random forest, with Auto learning several side by side and
// serving the best.
//
// A Trainer owns the full optimizer state and is used by one goroutine. Its Snapshot is an immutable,
// compact copy of the weights for serving, safe for concurrent use. Both encode to versioned binary
// forms: a Trainer's is a checkpoint that resumes bit-exactly, a Snapshot's is what the registry stores.
//
// For minibatches and many models trained at once, Engine drives a compute Backend over flat buffers;
// CPUBackend is the pure Go reference that other backends (CUDA) are checked against.
package learner
