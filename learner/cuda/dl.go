//go:build !nocuda

package cuda

import (
	"runtime"

	"github.com/ebitengine/purego"
)

// The dynamic loader, through purego: no cgo, but the binary links libc dynamically to get it. Build
// with -tags nocuda for a fully static binary without GPU support.

// dlopen loads a shared library. The thread is locked because purego calls dlopen and then
// dlerror, whose message is the calling thread's: on another thread the reason comes back empty.
func dlopen(name string) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// bind sets *fptr, a pointer to a func variable, to the library's function name; it panics when the
// library lacks it, which the callers turn into an error.
func bind(fptr any, lib uintptr, name string) { purego.RegisterLibFunc(fptr, lib, name) }
