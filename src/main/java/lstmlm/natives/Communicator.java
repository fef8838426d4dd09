package lstmlm.natives;

import java.lang.foreign.MemorySegment;

/**
 * The collective operations data-parallel training needs, over the ranks of one job. {@link #SINGLE}
 * is one rank alone (every operation leaves its data as it is), so the same training code runs with
 * and without MPI; {@link Mpi} is the real one. Every rank must make the same calls in the same order.
 */
public interface Communicator extends AutoCloseable {
    /** This process's rank, 0 ≤ rank &lt; size. */
    int rank();

    /** Number of ranks. */
    int size();

    /** In place: {@code count} floats at {@code offset} (in floats) become their sum over all ranks. */
    void allreduceSum(MemorySegment floats, long offset, long count);

    /** In place: each value becomes its sum over all ranks, summed in double. */
    void allreduceSum(double[] values);

    /** {@code bytes} bytes of {@code data} become rank {@code root}'s on every rank. */
    void broadcast(MemorySegment data, long bytes, int root);

    /** What this is, for the start-up banner (library, version, ranks). */
    String describe();

    /** Ends the job on every rank at once (a rank that failed alone would leave the others waiting). */
    void abort(int code);

    @Override
    void close();

    /** One rank alone. */
    Communicator SINGLE = new Communicator() {
        @Override
        public int rank() {
            return 0;
        }

        @Override
        public int size() {
            return 1;
        }

        @Override
        public void allreduceSum(MemorySegment floats, long offset, long count) {
        }

        @Override
        public void allreduceSum(double[] values) {
        }

        @Override
        public void broadcast(MemorySegment data, long bytes, int root) {
        }

        @Override
        public String describe() {
            return "single process";
        }

        @Override
        public void abort(int code) {
            Runtime.getRuntime().halt(code);
        }

        @Override
        public void close() {
        }
    };
}
