package lstmlm.natives;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * C[m×n] (+)= A[m×k] · op(B) for one fixed shape, with B reordered once into oneDNN's own blocked
 * layout ({@link #pack}) and multiplied many times ({@link #multiply}): oneDNN's matmul primitive,
 * bound with FFM. A and B are bf16 or float32 ({@link Element}), C float32; op(B) = B[k×n] (row
 * stride ldb) or, with {@code transB}, Bᵀ for B stored [n×k]. Two users: the per-step recurrent
 * product in bf16 (B = 20 rows against a weight fixed for a window, where
 * {@code dnnl_gemm_bf16bf16f32} reorders the weight at every call; bf16 only with AVX-512), and the
 * batched inference step in float32 (a few to a few hundred rows against weights fixed for the
 * model's life; docs/performance.md).
 *
 * <p>The packed layout depends on B's shape and on the OpenMP team's size, not on m, so one packed
 * copy serves every row count of one team size: {@link #PackedMatmul(PackedMatmul, int, int, int)}
 * makes a matmul for other rows over another's packed B, which must then outlive it.
 *
 * <p>One object per shape and per thread: it owns a stream and memory objects whose data handles
 * each call points at the caller's buffers, so two threads must not share one. Calls run on the
 * calling thread's OpenMP team ({@link OneDnn#setThreads}); the primitive is made with the team of
 * the thread that constructs it, which should be the team that will run it.
 */
public final class PackedMatmul implements AutoCloseable {
    // dnnl_types.h / dnnl_common_types.h (oneDNN 3.x)
    private static final int FORMAT_ANY = 1, CPU_ENGINE = 1, STREAM_IN_ORDER = 1;
    private static final int QUERY_WEIGHTS_MD = 131, QUERY_SCRATCHPAD_MD = 136, QUERY_IMPL_INFO_STR = 8;
    private static final int SCRATCHPAD_MODE_USER = 1;
    private static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_FROM = 1, ARG_TO = 17, ARG_SCRATCHPAD = 80;
    /** Where the reorder's arguments start in {@link #args}, after the matmul's (at most four). */
    private static final int REORDER_ARGS = 4;
    /** dnnl_dims_t: int64_t[DNNL_MAX_NDIMS]. */
    private static final int MAX_NDIMS = 12;

    /** oneDNN's matmul for the rows asked for reads B in another packed layout than the one to share. */
    public static final class LayoutMismatch extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        LayoutMismatch(String message) {
            super(message);
        }
    }

    /** The element type of A and B (C is always float32). */
    public enum Element {
        BF16(2, 2), F32(3, 4);

        final int dnnlType, bytes;

        Element(int dnnlType, int bytes) {
            this.dnnlType = dnnlType;
            this.bytes = bytes;
        }
    }

    private static final class Api {
        static final Api INSTANCE = new Api();
        final MethodHandle engineCreate, streamCreate, streamDestroy, mdWithStrides, mdWithTag, mdDestroy, mdSize,
                postOpsCreate, postOpsAppendSum, postOpsDestroy, attrCreate, attrSetPostOps, attrSetScratchpadMode, attrDestroy,
                matmulPd, reorderPd, pdQueryMd, pdQuery, pdDestroy, primitiveCreate, primitiveDestroy, execute,
                memoryCreate, memorySetHandle, memoryDestroy, memoryGetDesc, mdEqual;
        final long engine;

        private Api() {
            Linker l = Linker.nativeLinker();
            FunctionDescriptor s1 = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);
            FunctionDescriptor s2 = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG);
            engineCreate = h(l, "dnnl_engine_create", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG));
            streamCreate = h(l, "dnnl_stream_create", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
            streamDestroy = h(l, "dnnl_stream_destroy", s1);
            mdWithStrides = h(l, "dnnl_memory_desc_create_with_strides",
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG));
            mdWithTag = h(l, "dnnl_memory_desc_create_with_tag",
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT));
            mdDestroy = h(l, "dnnl_memory_desc_destroy", s1);
            mdSize = h(l, "dnnl_memory_desc_get_size", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            postOpsCreate = h(l, "dnnl_post_ops_create", s1);
            postOpsAppendSum = h(l, "dnnl_post_ops_append_sum",
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_FLOAT, JAVA_INT, JAVA_INT));
            postOpsDestroy = h(l, "dnnl_post_ops_destroy", s1);
            attrCreate = h(l, "dnnl_primitive_attr_create", s1);
            attrSetPostOps = h(l, "dnnl_primitive_attr_set_post_ops", s2);
            attrSetScratchpadMode = h(l, "dnnl_primitive_attr_set_scratchpad_mode", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
            attrDestroy = h(l, "dnnl_primitive_attr_destroy", s1);
            matmulPd = h(l, "dnnl_matmul_primitive_desc_create", FunctionDescriptor.of(JAVA_INT,
                    JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
            reorderPd = h(l, "dnnl_reorder_primitive_desc_create", FunctionDescriptor.of(JAVA_INT,
                    JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
            pdQueryMd = h(l, "dnnl_primitive_desc_query_md", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT));
            pdQuery = h(l, "dnnl_primitive_desc_query", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG));
            pdDestroy = h(l, "dnnl_primitive_desc_destroy", s1);
            primitiveCreate = h(l, "dnnl_primitive_create", s2);
            primitiveDestroy = h(l, "dnnl_primitive_destroy", s1);
            execute = h(l, "dnnl_primitive_execute", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG));
            memoryCreate = h(l, "dnnl_memory_create", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
            memorySetHandle = l.downcallHandle(OneDnn.symbol("dnnl_memory_set_data_handle"), s2, Linker.Option.critical(false));
            memoryDestroy = h(l, "dnnl_memory_destroy", s1);
            memoryGetDesc = h(l, "dnnl_memory_get_memory_desc", s2);
            mdEqual = h(l, "dnnl_memory_desc_equal", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(JAVA_LONG);
                check((int) engineCreate.invokeExact(out.address(), CPU_ENGINE, 0L), "dnnl_engine_create");
                engine = out.get(JAVA_LONG, 0);
            } catch (RuntimeException e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("dnnl_engine_create failed", t);
            }
        }

        private static MethodHandle h(Linker l, String name, FunctionDescriptor d) {
            return l.downcallHandle(OneDnn.symbol(name), d);
        }
    }

    private final Arena arena = Arena.ofShared();
    /** The packed B: this object's own, or the one it shares ({@link #shared}). */
    private final MemorySegment packed;
    private final MemorySegment args;
    /** oneDNN objects, 0 until made (a failed constructor destroys those it made). */
    private long stream, matmul, reorder, src, dst, weights, user, matmulScratch, reorderScratch;
    /** The arguments each call passes: the matmul's three, or four with its scratchpad; the reorder's two or three. */
    private final int matmulArgs, reorderArgs;
    private final String implementation;
    private final Element element;
    private final int m, n, k, ldb;
    private final boolean transB, accumulate;
    /** The matmul whose packed B this one reads, or null when it packs its own. */
    private final PackedMatmul shared;

    /**
     * A matmul that packs its own B.
     *
     * @param lda        row stride of A (≥ k); {@code ldb} of B as stored (≥ n, or ≥ k with {@code transB});
     *                   {@code ldc} of C (≥ n); all in elements
     * @param accumulate C += A·op(B) (a sum post-op) when true, else C = A·op(B)
     */
    public PackedMatmul(Element element, int m, int n, int k, int lda, boolean transB, int ldb, int ldc, boolean accumulate) {
        this(element, m, n, k, lda, transB, ldb, ldc, accumulate, null);
    }

    /**
     * A matmul of {@code m} rows over the packed B of {@code packedB} (same element type, B and
     * accumulation): it packs nothing, and {@code packedB} must stay open while it is used. Throws
     * {@link LayoutMismatch} if oneDNN would want another layout of B for these rows (on this
     * machine: one row, a matrix-vector kernel).
     */
    public PackedMatmul(PackedMatmul packedB, int m, int lda, int ldc) {
        this(packedB.element, m, packedB.n, packedB.k, lda, packedB.transB, packedB.ldb, ldc, packedB.accumulate,
                packedB.shared != null ? packedB.shared : packedB);
    }

    private PackedMatmul(Element element, int m, int n, int k, int lda, boolean transB, int ldb, int ldc, boolean accumulate,
                         PackedMatmul shared) {
        if (m < 1 || n < 1 || k < 1 || lda < k || ldc < n || ldb < (transB ? k : n)) {
            throw new IllegalArgumentException("bad shape " + m + "x" + n + "x" + k + " lda " + lda + " ldb " + ldb + " ldc " + ldc);
        }
        this.element = element;
        this.m = m;
        this.n = n;
        this.k = k;
        this.ldb = ldb;
        this.transB = transB;
        this.accumulate = accumulate;
        this.shared = shared;
        int type = element.dnnlType;
        Api api = Api.INSTANCE;
        long srcMd = 0, dstMd = 0, anyMd = 0, userMd = 0, postOps = 0, attr = 0, reorderAttr = 0, pd = 0, rpd = 0;
        try {
            MemorySegment out = arena.allocate(JAVA_LONG);
            MemorySegment dims = arena.allocate(JAVA_LONG, MAX_NDIMS), strides = arena.allocate(JAVA_LONG, MAX_NDIMS);
            srcMd = md(api, out, dims, strides, m, k, lda, 1, type);
            dstMd = md(api, out, dims, strides, m, n, ldc, 1, Element.F32.dnnlType);
            dims.setAtIndex(JAVA_LONG, 0, k);
            dims.setAtIndex(JAVA_LONG, 1, n);
            check((int) api.mdWithTag.invokeExact(out.address(), 2, dims.address(), type, FORMAT_ANY), "dnnl_memory_desc_create_with_tag");
            anyMd = out.get(JAVA_LONG, 0);
            // each primitive its own scratchpad: the library's shared one ties a primitive to the thread that made
            // it, and these are made on one thread and run on another (a batch stepped from a pool, a team's workers)
            check((int) api.attrCreate.invokeExact(out.address()), "dnnl_primitive_attr_create");
            attr = out.get(JAVA_LONG, 0);
            check((int) api.attrSetScratchpadMode.invokeExact(attr, SCRATCHPAD_MODE_USER), "dnnl_primitive_attr_set_scratchpad_mode");
            if (accumulate) {
                // beta = 1: C += A·B as a sum post-op
                check((int) api.postOpsCreate.invokeExact(out.address()), "dnnl_post_ops_create");
                postOps = out.get(JAVA_LONG, 0);
                check((int) api.postOpsAppendSum.invokeExact(postOps, 1f, 0, 0), "dnnl_post_ops_append_sum");
                check((int) api.attrSetPostOps.invokeExact(attr, postOps), "dnnl_primitive_attr_set_post_ops");
            }
            check((int) api.matmulPd.invokeExact(out.address(), api.engine, srcMd, anyMd, 0L, dstMd, attr),
                    "dnnl_matmul_primitive_desc_create");
            pd = out.get(JAVA_LONG, 0);
            check((int) api.pdQuery.invokeExact(pd, QUERY_IMPL_INFO_STR, 0, out.address()), "dnnl_primitive_desc_query");
            implementation = MemorySegment.ofAddress(out.get(JAVA_LONG, 0)).reinterpret(256).getString(0);
            long packedMd = (long) api.pdQueryMd.invokeExact(pd, QUERY_WEIGHTS_MD, 0); // owned by pd
            if (shared == null) {
                long bytes = (long) api.mdSize.invokeExact(packedMd);
                packed = arena.allocate(Math.max(bytes, 64), 4096);
            } else {
                check((int) api.memoryGetDesc.invokeExact(shared.weights, out.address()), "dnnl_memory_get_memory_desc");
                if ((int) api.mdEqual.invokeExact(packedMd, out.get(JAVA_LONG, 0)) != 1) {
                    throw new LayoutMismatch("oneDNN packs B " + k + "x" + n + " differently for " + m + " rows than for "
                            + shared.m + " (or for this thread's OpenMP team); it cannot be shared");
                }
                packed = shared.packed;
            }
            check((int) api.primitiveCreate.invokeExact(out.address(), pd), "dnnl_primitive_create");
            matmul = out.get(JAVA_LONG, 0);
            matmulScratch = scratchpad(api, out, pd);
            if (shared == null) {
                // the reorder from B as stored into the packed copy: only the matmul that owns the copy packs
                userMd = transB ? md(api, out, dims, strides, k, n, 1, ldb, type) : md(api, out, dims, strides, k, n, ldb, 1, type);
                check((int) api.attrCreate.invokeExact(out.address()), "dnnl_primitive_attr_create");
                reorderAttr = out.get(JAVA_LONG, 0);
                check((int) api.attrSetScratchpadMode.invokeExact(reorderAttr, SCRATCHPAD_MODE_USER),
                        "dnnl_primitive_attr_set_scratchpad_mode");
                check((int) api.reorderPd.invokeExact(out.address(), userMd, api.engine, packedMd, api.engine, reorderAttr),
                        "dnnl_reorder_primitive_desc_create");
                rpd = out.get(JAVA_LONG, 0);
                check((int) api.primitiveCreate.invokeExact(out.address(), rpd), "dnnl_primitive_create (reorder)");
                reorder = out.get(JAVA_LONG, 0);
                reorderScratch = scratchpad(api, out, rpd);
                user = memory(api, out, userMd, 0);
            }
            check((int) api.streamCreate.invokeExact(out.address(), api.engine, STREAM_IN_ORDER), "dnnl_stream_create");
            stream = out.get(JAVA_LONG, 0);
            // the memory objects copy their descriptors; data handles are set at each call
            src = memory(api, out, srcMd, 0);
            dst = memory(api, out, dstMd, 0);
            weights = memory(api, out, packedMd, packed.address());
            // dnnl_exec_arg_t {int arg; dnnl_memory_t memory;}: 16 bytes each; the matmul's, then the reorder's
            args = arena.allocate(16 * (REORDER_ARGS + 3), 8);
            arg(0, ARG_SRC, src);
            arg(1, ARG_WEIGHTS, weights);
            arg(2, ARG_DST, dst);
            if (matmulScratch != 0) arg(3, ARG_SCRATCHPAD, matmulScratch);
            matmulArgs = matmulScratch != 0 ? 4 : 3;
            arg(REORDER_ARGS, ARG_FROM, user);
            arg(REORDER_ARGS + 1, ARG_TO, weights);
            if (reorderScratch != 0) arg(REORDER_ARGS + 2, ARG_SCRATCHPAD, reorderScratch);
            reorderArgs = reorderScratch != 0 ? 3 : 2;
        } catch (Throwable t) {
            try {
                destroyObjects();
            } catch (RuntimeException suppressed) {
                t.addSuppressed(suppressed);
            }
            arena.close();
            if (t instanceof RuntimeException e) throw e;
            throw new IllegalStateException("oneDNN matmul set-up failed", t);
        } finally {
            try {
                if (srcMd != 0) check((int) api.mdDestroy.invokeExact(srcMd), "dnnl_memory_desc_destroy");
                if (dstMd != 0) check((int) api.mdDestroy.invokeExact(dstMd), "dnnl_memory_desc_destroy");
                if (anyMd != 0) check((int) api.mdDestroy.invokeExact(anyMd), "dnnl_memory_desc_destroy");
                if (userMd != 0) check((int) api.mdDestroy.invokeExact(userMd), "dnnl_memory_desc_destroy");
                if (attr != 0) check((int) api.attrDestroy.invokeExact(attr), "dnnl_primitive_attr_destroy");
                if (reorderAttr != 0) check((int) api.attrDestroy.invokeExact(reorderAttr), "dnnl_primitive_attr_destroy");
                if (postOps != 0) check((int) api.postOpsDestroy.invokeExact(postOps), "dnnl_post_ops_destroy");
                // a primitive keeps what it needs of its descriptor
                if (pd != 0) check((int) api.pdDestroy.invokeExact(pd), "dnnl_primitive_desc_destroy");
                if (rpd != 0) check((int) api.pdDestroy.invokeExact(rpd), "dnnl_primitive_desc_destroy");
            } catch (RuntimeException e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    private static long md(Api api, MemorySegment out, MemorySegment dims, MemorySegment strides,
                           long rows, long cols, long rowStride, long colStride, int type) throws Throwable {
        dims.setAtIndex(JAVA_LONG, 0, rows);
        dims.setAtIndex(JAVA_LONG, 1, cols);
        strides.setAtIndex(JAVA_LONG, 0, rowStride);
        strides.setAtIndex(JAVA_LONG, 1, colStride);
        check((int) api.mdWithStrides.invokeExact(out.address(), 2, dims.address(), type, strides.address()),
                "dnnl_memory_desc_create_with_strides");
        return out.get(JAVA_LONG, 0);
    }

    private static long memory(Api api, MemorySegment out, long md, long handle) throws Throwable {
        check((int) api.memoryCreate.invokeExact(out.address(), md, api.engine, handle), "dnnl_memory_create");
        return out.get(JAVA_LONG, 0);
    }

    /** A memory object over a scratchpad of this arena for the primitive of {@code pd}, or 0 when it needs none. */
    private long scratchpad(Api api, MemorySegment out, long pd) throws Throwable {
        long md = (long) api.pdQueryMd.invokeExact(pd, QUERY_SCRATCHPAD_MD, 0); // owned by pd
        long bytes = md == 0 ? 0 : (long) api.mdSize.invokeExact(md);
        return bytes == 0 ? 0 : memory(api, out, md, arena.allocate(bytes, 64).address());
    }

    private void arg(int i, int what, long memory) {
        args.set(JAVA_INT, 16L * i, what);
        args.set(JAVA_LONG, 16L * i + 8, memory);
    }

    private static void check(int status, String what) {
        if (status != 0) throw new IllegalStateException(what + " returned oneDNN status " + status);
    }

    /**
     * Reorders op(B)'s values at {@code b} + {@code bOff} elements (laid out as the constructor said) into
     * the packed copy, which every matmul sharing it then reads.
     */
    public void pack(MemorySegment b, long bOff) {
        if (shared != null) throw new IllegalStateException("this matmul reads another's packed B: pack that one");
        Api api = Api.INSTANCE;
        try {
            check((int) api.memorySetHandle.invokeExact(user, b.address() + element.bytes * bOff), "dnnl_memory_set_data_handle");
            check((int) api.execute.invokeExact(reorder, stream, reorderArgs, args.address() + 16 * REORDER_ARGS),
                    "dnnl_primitive_execute (reorder)");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** C (+)= A · op(B) with the B of the last {@link #pack}; offsets in elements (A as {@link Element}, C float32). */
    public void multiply(MemorySegment a, long aOff, MemorySegment c, long cOff) {
        Api api = Api.INSTANCE;
        try {
            check((int) api.memorySetHandle.invokeExact(src, a.address() + element.bytes * aOff), "dnnl_memory_set_data_handle");
            check((int) api.memorySetHandle.invokeExact(dst, c.address() + 4 * cOff), "dnnl_memory_set_data_handle");
            int status = (int) api.execute.invokeExact(matmul, stream, matmulArgs, args.address());
            // the message only on failure: this runs at every step
            if (status != 0) check(status, "dnnl_primitive_execute (matmul " + m + "x" + n + "x" + k + ")");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Bytes of the packed copy of B this matmul owns (0 when it shares another's). */
    public long packedBytes() {
        return shared == null ? packed.byteSize() : 0;
    }

    /** The rows of A and C this matmul multiplies. */
    public int rows() {
        return m;
    }

    /** oneDNN's name for the implementation it chose, e.g. "brg_matmul:avx512_core_bf16". */
    public String implementation() {
        return implementation;
    }

    @Override
    public void close() {
        try {
            destroyObjects();
        } finally {
            arena.close();
        }
    }

    /** Destroys the oneDNN objects made so far, each once. */
    private void destroyObjects() {
        Api api = Api.INSTANCE;
        try {
            for (long mem : new long[]{src, dst, user, weights, matmulScratch, reorderScratch}) {
                if (mem != 0) check((int) api.memoryDestroy.invokeExact(mem), "dnnl_memory_destroy");
            }
            src = dst = user = weights = matmulScratch = reorderScratch = 0;
            if (matmul != 0) check((int) api.primitiveDestroy.invokeExact(matmul), "dnnl_primitive_destroy");
            matmul = 0;
            if (reorder != 0) check((int) api.primitiveDestroy.invokeExact(reorder), "dnnl_primitive_destroy");
            reorder = 0;
            if (stream != 0) check((int) api.streamDestroy.invokeExact(stream), "dnnl_stream_destroy");
            stream = 0;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
