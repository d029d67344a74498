#!/usr/bin/env bash
# Cortex-M sizes and a bit-exact ARM run of the C export (docs/RESULTS.md, "C export").
#
#   scripts/cgen-arm.sh MODEL.qat [N]
#
# 1. qat export --format c writes the C of MODEL.qat into a temporary directory;
# 2. arm-none-eabi-gcc compiles it for Cortex-M4 and Cortex-M0+ (-mthumb -Os, C99, every
#    warning an error) and arm-none-eabi-size prints text/data/bss of the object, then of an
#    image linked with a main that calls <name>_predict on static buffers (no C library; the
#    libgcc helpers the code needs, e.g. 64-bit multiply or division on the M0+, included;
#    bss = the arena, the input and the output); -fstack-usage gives the stack of every
#    function, and their sum bounds the stack of <name>_predict (no recursion, each function
#    at most once on any call chain);
# 3. the harness is built with arm-linux-gnueabihf-gcc -static and run under qemu-arm on the
#    first N (default 10,000) MNIST test images; every output code and class is compared with
#    the engine (N = 0: sizes only).
#
# Needs: apt-get install -y gcc-arm-none-eabi gcc-arm-linux-gnueabihf qemu-user
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/cgen-arm.sh MODEL.qat [N]}
n=${2:-10000}
for tool in arm-none-eabi-gcc arm-none-eabi-size arm-linux-gnueabihf-gcc qemu-arm; do
  command -v "$tool" >/dev/null || { echo "cgen-arm.sh: $tool not found (apt-get install -y gcc-arm-none-eabi gcc-arm-linux-gnueabihf qemu-user)" >&2; exit 2; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go run ./cmd/qat export --format c --from "$model" --out "$dir" --c-name model
for cpu in cortex-m4 cortex-m0plus; do
  arm-none-eabi-gcc -std=c99 -pedantic -Wall -Wextra -Werror -mcpu=$cpu -mthumb -Os \
    -fstack-usage -c "$dir/model.c" -o "$dir/model-$cpu.o"
  echo "== $cpu (-mthumb -Os)"
  arm-none-eabi-size "$dir/model-$cpu.o"
  printf '#include "model.h"\nstatic uint8_t arena[MODEL_ARENA_SIZE], pixels[MODEL_INPUT_SIZE], codes[MODEL_OUTPUT_SIZE];\nint main(void) { return model_predict(pixels, codes, arena); }\n' > "$dir/main.c"
  arm-none-eabi-gcc -std=c99 -mcpu=$cpu -mthumb -Os -ffunction-sections -fdata-sections -nostdlib -nostartfiles \
    -Wl,-e,main -Wl,--gc-sections "$dir/main.c" "$dir/model.c" -lgcc -o "$dir/model-$cpu.elf"
  arm-none-eabi-size "$dir/model-$cpu.elf"
  echo "libgcc helpers linked: $(arm-none-eabi-nm -u "$dir/model-$cpu.o" | awk '{print $2}' | tr '\n' ' ')"
  su=$(awk '{s += $(NF-1)} END {print s}' "$dir/model-$cpu.su")
  arena=$(awk '/#define MODEL_ARENA_SIZE/ {print $3}' "$dir/model.h")
  echo "stack: at most $su bytes (sum of the frames in model-$cpu.su); arena $arena bytes; RAM <= $((su + arena)) bytes + data + bss"
  sed 's/^/    /' "$dir/model-$cpu.su"
done
[ "$n" -gt 0 ] || exit 0 # N = 0: sizes only
echo "== arm-linux-gnueabihf-gcc -static, qemu-arm, $n MNIST test images"
go run ./export/cgen/internal/ccheck --model "$model" --cc arm-linux-gnueabihf-gcc \
  --flags "-std=c99 -O2 -Wall -Wextra -Werror -pedantic -static" --exec qemu-arm --n "$n"
