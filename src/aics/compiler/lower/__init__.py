"""Lowering of IR layers to DLP instructions, one module per op family: ``weighted`` (conv2d,
linear + fused epilogues), ``vector`` (pooling, global average, LUT activations, add),
``movement`` (concat, slice, permute); ``common`` holds the emitter they share."""
