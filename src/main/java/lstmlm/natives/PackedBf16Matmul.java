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
 * C[m×n] += A[m×k] · op(B) for one fixed shape, with B reordered once into oneDNN's own blocked
 * layout ({@link #pack}) and multiplied many times ({@link #multiplyAdd}): oneDNN's matmul
 * primitive, bound with FFM. A and B are bf16, C float32; op(B) = B[k×n] (row stride ldb) or, with
 * {@code transB}, Bᵀ for B stored [n×k]. This is the per-step recurrent product's shape: B = 20
 * rows against a weight that stays fixed for a whole window, where {@code dnnl_gemm_bf16bf16f32}
 * reorders the weight again at every call: about half the time for large's shapes
 * (docs/performance.md). oneDNN has this primitive only with AVX-512.
 *
 * <p>One object per shape and per thread: it owns a stream and memory objects whose data handles
 * each call points at the caller's buffers, so two threads must not share one. Calls run on the
 * calling thread's OpenMP team ({@link OneDnn#setThreads}); the primitive is made with the team of
 * the thread that constructs it, which should be the team that will run it.
 */
public final class PackedBf16Matmul implements AutoCloseable {
    // dnnl_types.h / dnnl_common_types.h (oneDNN 3.x)
    private static final int BF16 = 2, F32 = 3, FORMAT_ANY = 1, CPU_ENGINE = 1, STREAM_IN_ORDER = 1;
    private static final int QUERY_WEIGHTS_MD = 131, QUERY_IMPL_INFO_STR = 8;
    private static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_FROM = 1, ARG_TO = 17;
    /** dnnl_dims_t: int64_t[DNNL_MAX_NDIMS]. */
    private static final int MAX_NDIMS = 12;

    private static final class Api {
        static final Api INSTANCE = new Api();
        final MethodHandle engineCreate, streamCreate, streamDestroy, mdWithStrides, mdWithTag, mdDestroy, mdSize,
                postOpsCreate, postOpsAppendSum, postOpsDestroy, attrCreate, attrSetPostOps, attrDestroy,
                matmulPd, reorderPd, pdQueryMd, pdQuery, pdDestroy, primitiveCreate, primitiveDestroy, execute,
                memoryCreate, memorySetHandle, memoryDestroy;
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
    private final MemorySegment packed, args;
    /** oneDNN objects, 0 until made (a failed constructor destroys those it made). */
    private long stream, matmul, reorder, src, dst, weights, user;
    private final String implementation;
    private final int m, n, k;

    /**
     * @param lda row stride of A (≥ k); {@code ldb} of B as stored (≥ n, or ≥ k with {@code transB});
     *            {@code ldc} of C (≥ n); all in elements
     */
    public PackedBf16Matmul(int m, int n, int k, int lda, boolean transB, int ldb, int ldc) {
        if (m < 1 || n < 1 || k < 1 || lda < k || ldc < n || ldb < (transB ? k : n)) {
            throw new IllegalArgumentException("bad shape " + m + "x" + n + "x" + k + " lda " + lda + " ldb " + ldb + " ldc " + ldc);
        }
        this.m = m;
        this.n = n;
        this.k = k;
        Api api = Api.INSTANCE;
        long srcMd = 0, dstMd = 0, anyMd = 0, userMd = 0, postOps = 0, attr = 0, pd = 0, rpd = 0;
        try {
            MemorySegment out = arena.allocate(JAVA_LONG);
            MemorySegment dims = arena.allocate(JAVA_LONG, MAX_NDIMS), strides = arena.allocate(JAVA_LONG, MAX_NDIMS);
            srcMd = md(api, out, dims, strides, m, k, lda, 1, BF16);
            dstMd = md(api, out, dims, strides, m, n, ldc, 1, F32);
            userMd = transB ? md(api, out, dims, strides, k, n, 1, ldb, BF16) : md(api, out, dims, strides, k, n, ldb, 1, BF16);
            dims.setAtIndex(JAVA_LONG, 0, k);
            dims.setAtIndex(JAVA_LONG, 1, n);
            check((int) api.mdWithTag.invokeExact(out.address(), 2, dims.address(), BF16, FORMAT_ANY), "dnnl_memory_desc_create_with_tag");
            anyMd = out.get(JAVA_LONG, 0);
            // beta = 1: C += A·B as a sum post-op
            check((int) api.postOpsCreate.invokeExact(out.address()), "dnnl_post_ops_create");
            postOps = out.get(JAVA_LONG, 0);
            check((int) api.postOpsAppendSum.invokeExact(postOps, 1f, 0, 0), "dnnl_post_ops_append_sum");
            check((int) api.attrCreate.invokeExact(out.address()), "dnnl_primitive_attr_create");
            attr = out.get(JAVA_LONG, 0);
            check((int) api.attrSetPostOps.invokeExact(attr, postOps), "dnnl_primitive_attr_set_post_ops");
            check((int) api.matmulPd.invokeExact(out.address(), api.engine, srcMd, anyMd, 0L, dstMd, attr),
                    "dnnl_matmul_primitive_desc_create");
            pd = out.get(JAVA_LONG, 0);
            check((int) api.pdQuery.invokeExact(pd, QUERY_IMPL_INFO_STR, 0, out.address()), "dnnl_primitive_desc_query");
            implementation = MemorySegment.ofAddress(out.get(JAVA_LONG, 0)).reinterpret(256).getString(0);
            long packedMd = (long) api.pdQueryMd.invokeExact(pd, QUERY_WEIGHTS_MD, 0); // owned by pd
            long bytes = (long) api.mdSize.invokeExact(packedMd);
            packed = arena.allocate(Math.max(bytes, 64), 4096);
            check((int) api.primitiveCreate.invokeExact(out.address(), pd), "dnnl_primitive_create");
            matmul = out.get(JAVA_LONG, 0);
            check((int) api.reorderPd.invokeExact(out.address(), userMd, api.engine, packedMd, api.engine, 0L),
                    "dnnl_reorder_primitive_desc_create");
            rpd = out.get(JAVA_LONG, 0);
            check((int) api.primitiveCreate.invokeExact(out.address(), rpd), "dnnl_primitive_create (reorder)");
            reorder = out.get(JAVA_LONG, 0);
            check((int) api.streamCreate.invokeExact(out.address(), api.engine, STREAM_IN_ORDER), "dnnl_stream_create");
            stream = out.get(JAVA_LONG, 0);
            // the memory objects copy their descriptors; data handles are set at each call
            src = memory(api, out, srcMd, 0);
            dst = memory(api, out, dstMd, 0);
            user = memory(api, out, userMd, 0);
            weights = memory(api, out, packedMd, packed.address());
            // dnnl_exec_arg_t {int arg; dnnl_memory_t memory;}: 16 bytes each; 3 for the matmul, 2 for the reorder
            args = arena.allocate(16 * 5, 8);
            arg(0, ARG_SRC, src);
            arg(1, ARG_WEIGHTS, weights);
            arg(2, ARG_DST, dst);
            arg(3, ARG_FROM, user);
            arg(4, ARG_TO, weights);
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

    private void arg(int i, int what, long memory) {
        args.set(JAVA_INT, 16L * i, what);
        args.set(JAVA_LONG, 16L * i + 8, memory);
    }

    private static void check(int status, String what) {
        if (status != 0) throw new IllegalStateException(what + " returned oneDNN status " + status);
    }

    /** Reorders op(B)'s bf16 values at {@code b} + {@code bOff} elements (laid out as the constructor said) into the packed copy. */
    public void pack(MemorySegment b, long bOff) {
        Api api = Api.INSTANCE;
        try {
            check((int) api.memorySetHandle.invokeExact(user, b.address() + 2 * bOff), "dnnl_memory_set_data_handle");
            check((int) api.execute.invokeExact(reorder, stream, 2, args.address() + 16 * 3), "dnnl_primitive_execute (reorder)");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** C += A · op(B) with the B of the last {@link #pack}; offsets in elements (A bf16, C float32). */
    public void multiplyAdd(MemorySegment a, long aOff, MemorySegment c, long cOff) {
        Api api = Api.INSTANCE;
        try {
            check((int) api.memorySetHandle.invokeExact(src, a.address() + 2 * aOff), "dnnl_memory_set_data_handle");
            check((int) api.memorySetHandle.invokeExact(dst, c.address() + 4 * cOff), "dnnl_memory_set_data_handle");
            int status = (int) api.execute.invokeExact(matmul, stream, 3, args.address());
            // the message only on failure: this runs at every step
            if (status != 0) check(status, "dnnl_primitive_execute (matmul " + m + "x" + n + "x" + k + ")");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Bytes of the packed copy of B. */
    public long packedBytes() {
        return packed.byteSize();
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
            for (long mem : new long[]{src, dst, user, weights}) {
                if (mem != 0) check((int) api.memoryDestroy.invokeExact(mem), "dnnl_memory_destroy");
            }
            src = dst = user = weights = 0;
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
