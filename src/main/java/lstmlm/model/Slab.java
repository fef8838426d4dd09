package lstmlm.model;

import java.lang.foreign.MemorySegment;

/**
 * A float32 slab and its bf16 mirror: the same tensors at the same element offsets, the mirror's
 * elements 2 bytes wide. A GEMM operand is (slab, offset); fp32 GEMMs read {@link #f32}, bf16
 * GEMMs read {@link #bf16}, so one offset serves both precisions. The mirror is null in fp32 mode.
 */
record Slab(MemorySegment f32, MemorySegment bf16) {}
