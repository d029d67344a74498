// Package export turns a trained qatgo model into a deployable integer model (package
// export/qnet) and measures how faithfully the integer engine reproduces the fake-quant
// simulation the model was trained with.
//
// Convert reads, for every quantizable layer, exactly what the simulation used:
//
//   - weights: the layer's effective float weights (input normalization folded in, see
//     autograd.FoldNormWeightsInto), quantized with the WeightQuantizer's own per-channel
//     parameters: q_w = round(w / S_w[c]), zero point 0, narrow signed range;
//   - bias: q_b = round(b / (S_in S_w[c])), the same expression BiasQuantizer evaluates in the
//     graph, refused if it leaves int32;
//   - requantization: M[c] = S_in S_w[c] / S_out as (Multiplier, Shift) =
//     fakequant.QuantizeMultiplier(M[c]), rounded by the model's rule (nn.Config.Rounding,
//     the rule the simulation applied), which the integer model records;
//   - activations: ReLU and ReLU6 become the clamp [max(qmin, Z_out), qmax] and
//     [max(qmin, Z_out), min(qmax, Z_out + round(6/S_out))];
//   - the model input: raw pixels, scale 1/255, zero point 0, so the engine takes uint8 images;
//   - descriptive metadata (qnet.Meta, float32 bits): the input scale, every layer's output
//     scale and the trained per-channel weight scales S_w[c], for converters to other formats.
//
// Compare runs both on a data set and reports the accuracy of each, the argmax agreement and,
// per layer, the largest difference between simulated and integer activations in quantization
// steps.
package export
