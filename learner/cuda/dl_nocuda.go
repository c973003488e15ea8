//go:build nocuda

package cuda

import "errors"

// Built with -tags nocuda: a fully static binary that never loads the CUDA driver.

var errNoCUDA = errors.New("built with -tags nocuda, without GPU support")

func dlopen(string) (uintptr, error) { return 0, errNoCUDA }

func bind(any, uintptr, string) { panic(errNoCUDA) }
