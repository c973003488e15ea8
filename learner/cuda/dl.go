//go:build !nocuda

package cuda

import "github.com/ebitengine/purego"

// The dynamic loader, through purego: no cgo, but the binary links libc dynamically to get it. Build
// with -tags nocuda for a fully static binary without GPU support.

// dlopen loads a shared library.
func dlopen(name string) (uintptr, error) {
	return purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// bind sets *fptr, a pointer to a func variable, to the library's function name; it panics when the
// library lacks it, which the callers turn into an error.
func bind(fptr any, lib uintptr, name string) { purego.RegisterLibFunc(fptr, lib, name) }
