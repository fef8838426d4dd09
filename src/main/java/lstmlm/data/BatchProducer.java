package lstmlm.data;

import java.util.Arrays;

/**
 * Cuts a token stream into truncated-BPTT windows like reader.py's {@code ptb_producer}: the stream is split
 * into {@code batchSize} contiguous rows, and window {@code i} takes columns {@code [i*T, i*T+T)} as input
 * and the same columns shifted by one as targets. Leftover tokens at the end of each row are dropped.
 */
public final class BatchProducer {
    private final int[] rows;      // row b holds raw[b*batchLen .. (b+1)*batchLen)
    private final int batchSize;
    private final int numSteps;
    private final int batchLen;
    private final int epochSize;

    public BatchProducer(int[] raw, int batchSize, int numSteps) {
        if (batchSize <= 0 || numSteps <= 0) {
            throw new DataException("batch_size and num_steps must be positive, got batch_size " + batchSize
                    + " and num_steps " + numSteps + ". Pass values of at least 1.");
        }
        this.batchSize = batchSize;
        this.numSteps = numSteps;
        this.batchLen = raw.length / batchSize;
        this.epochSize = Math.max(0, (batchLen - 1) / numSteps);
        if (epochSize == 0) {
            long needed = (long) batchSize * (numSteps + 1);
            throw new DataException("Epoch size is 0: " + raw.length + " tokens split into batch_size " + batchSize
                    + " rows of " + batchLen + " leave no full window of num_steps " + numSteps
                    + " (need at least batch_size * (num_steps + 1) = " + needed
                    + " tokens). Decrease batch_size or num_steps.");
        }
        this.rows = Arrays.copyOf(raw, batchSize * batchLen);
    }

    /** Windows per epoch. */
    public int epochSize() {
        return epochSize;
    }

    public int batchSize() {
        return batchSize;
    }

    public int numSteps() {
        return numSteps;
    }

    /** Fills time-major inputs and targets of window {@code i}: element (t, b) is at {@code t*batchSize + b}. */
    public void window(int i, int[] xTimeMajor, int[] yTimeMajor) {
        checkWindow(i);
        int cells = numSteps * batchSize;
        if (xTimeMajor.length != cells || yTimeMajor.length != cells) {
            throw new IllegalArgumentException("window arrays must have numSteps * batchSize = " + cells
                    + " elements, got " + xTimeMajor.length + " and " + yTimeMajor.length);
        }
        for (int b = 0; b < batchSize; b++) {
            int start = b * batchLen + i * numSteps;
            for (int t = 0; t < numSteps; t++) {
                xTimeMajor[t * batchSize + b] = rows[start + t];
                yTimeMajor[t * batchSize + b] = rows[start + t + 1];
            }
        }
    }

    /**
     * Rows [firstRow, firstRow + rows) of window {@code i}, time-major: element (t, b) of row
     * firstRow + b is at {@code t*rows + b}. A data-parallel rank's part of the window.
     */
    public void window(int i, int firstRow, int rows, int[] xTimeMajor, int[] yTimeMajor) {
        checkWindow(i);
        if (firstRow < 0 || rows < 1 || firstRow + rows > batchSize) {
            throw new IllegalArgumentException("rows [" + firstRow + ", " + (firstRow + rows) + ") are not inside a batch of " + batchSize);
        }
        int cells = numSteps * rows;
        if (xTimeMajor.length != cells || yTimeMajor.length != cells) {
            throw new IllegalArgumentException("window arrays must have numSteps * rows = " + cells
                    + " elements, got " + xTimeMajor.length + " and " + yTimeMajor.length);
        }
        for (int b = 0; b < rows; b++) {
            int start = (firstRow + b) * batchLen + i * numSteps;
            for (int t = 0; t < numSteps; t++) {
                xTimeMajor[t * rows + b] = this.rows[start + t];
                yTimeMajor[t * rows + b] = this.rows[start + t + 1];
            }
        }
    }

    private void checkWindow(int i) {
        if (i < 0 || i >= epochSize) {
            throw new IndexOutOfBoundsException("window " + i + " outside [0, " + epochSize + ")");
        }
    }
}
