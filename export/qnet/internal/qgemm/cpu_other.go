//go:build !amd64 || purego

package qgemm

// best is LevelGo: no assembly in this build.
var best = LevelGo

func gemmAsm(*Packed, []int32, int, []uint8, int, int, []int32) {
	panic("qgemm: no assembly in this build")
}

func gemm16Asm(*Packed, []int32, int, []int16, int, int, []int32) {
	panic("qgemm: no assembly in this build")
}

func requantAsm(*Requant, []uint8, int, []int32, int, int) {
	panic("qgemm: no assembly in this build")
}

func maxIntoAsm([]int32, []int32) int { return 0 }

func gatherAsm([]uint8, int, []uint8, []int32, int, int, int, uint8) {
	panic("qgemm: no assembly in this build")
}

func gather16Asm([]int16, int, []uint8, []int32, int, int, int, uint8) {
	panic("qgemm: no assembly in this build")
}

func spmmAsm(*Sparse, []int32, int, int, []int32, int, int, []int32) {
	panic("qgemm: no assembly in this build")
}

func pool2x2TAsm([]int32, int, []int32, int, int, int, int, int) {
	panic("qgemm: no assembly in this build")
}
