//go:build !amd64 || purego

package train

// useAdamAsm is false: there is no vector Adam update for this build.
const useAdamAsm = false

func adamAsm(w, grad, m, v *float32, groups int, k *adamConsts) {
	panic("train: no assembly Adam update")
}
