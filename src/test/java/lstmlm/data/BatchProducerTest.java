package lstmlm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BatchProducerTest {
    private static final int[] RAW = {4, 3, 2, 1, 0, 5, 6, 1, 1, 1, 1, 0, 3, 4, 1};

    /** The case from TensorFlow's reader_test.py (testPtbProducer). */
    /** A rank's rows of a window are those rows of the whole window, time-major over its own row count. */
    @Test
    void aRowRangeIsThoseRowsOfTheWholeWindow() {
        int[] raw = IntStream.range(0, 997).map(i -> i * 7 % 101).toArray();
        BatchProducer p = new BatchProducer(raw, 6, 4);
        int[] x = new int[24], y = new int[24];
        p.window(3, x, y);
        for (int[] range : new int[][] {{0, 6}, {0, 3}, {3, 3}, {1, 4}, {5, 1}}) {
            int first = range[0], rows = range[1];
            int[] px = new int[4 * rows], py = new int[4 * rows];
            p.window(3, first, rows, px, py);
            for (int t = 0; t < 4; t++) {
                for (int b = 0; b < rows; b++) {
                    assertEquals(x[t * 6 + first + b], px[t * rows + b]);
                    assertEquals(y[t * 6 + first + b], py[t * rows + b]);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> p.window(3, 4, 3, new int[12], new int[12]));
    }

    @Test
    void matchesTensorFlowReaderTest() {
        BatchProducer producer = new BatchProducer(RAW, 3, 2);
        assertEquals(2, producer.epochSize());
        assertArrayEquals(new int[][] {{4, 3}, {5, 6}, {1, 0}}, x(producer, 0));
        assertArrayEquals(new int[][] {{3, 2}, {6, 1}, {0, 3}}, y(producer, 0));
        assertArrayEquals(new int[][] {{2, 1}, {1, 1}, {3, 4}}, x(producer, 1));
        assertArrayEquals(new int[][] {{1, 0}, {1, 1}, {4, 1}}, y(producer, 1));
    }

    @Test
    void timeMajorWindowIsTheTransposeOfTheBatchMajorOne() {
        int[] raw = IntStream.range(0, 1000).toArray();
        BatchProducer producer = new BatchProducer(raw, 7, 5);
        int[] x = new int[35];
        int[] y = new int[35];
        for (int i = 0; i < producer.epochSize(); i++) {
            producer.window(i, x, y);
            int[][] xb = x(producer, i);
            int[][] yb = y(producer, i);
            for (int t = 0; t < 5; t++) {
                for (int b = 0; b < 7; b++) {
                    assertEquals(xb[b][t], x[t * 7 + b]);
                    assertEquals(yb[b][t], y[t * 7 + b]);
                }
            }
        }
    }

    @Test
    void epochSizeFollowsReaderPy() {
        // batchLen = 1000 / 7 = 142; (142 - 1) / 5 = 28
        BatchProducer producer = new BatchProducer(IntStream.range(0, 1000).toArray(), 7, 5);
        assertEquals(28, producer.epochSize());
        assertEquals(7, producer.batchSize());
        assertEquals(5, producer.numSteps());
        // row b starts at b * 142; the last window's last target is column 27 * 5 + 4 + 1 = 140
        assertEquals(140, y(producer, 27)[0][4]);
        assertEquals(6 * 142 + 140, y(producer, 27)[6][4]);
    }

    @Test
    void smallestDataThatGivesOneWindow() {
        assertEquals(1, new BatchProducer(new int[6], 2, 2).epochSize());
    }

    @Test
    void epochSizeZeroSaysWhatToChange() {
        DataException e = assertThrows(DataException.class, () -> new BatchProducer(RAW, 3, 10));
        assertTrue(e.getMessage().contains("15 tokens"), e.getMessage());
        assertTrue(e.getMessage().contains("batch_size 3"), e.getMessage());
        assertTrue(e.getMessage().contains("num_steps 10"), e.getMessage());
        assertTrue(e.getMessage().contains("Decrease batch_size or num_steps"), e.getMessage());
    }

    @Test
    void moreRowsThanTokensIsTheSameError() {
        assertThrows(DataException.class, () -> new BatchProducer(new int[2], 3, 1));
    }

    @Test
    void rejectsNonPositiveSizes() {
        assertThrows(DataException.class, () -> new BatchProducer(RAW, 0, 2));
        assertThrows(DataException.class, () -> new BatchProducer(RAW, 3, 0));
    }

    @Test
    void rejectsWindowsOutsideTheEpochAndWrongArrayLengths() {
        BatchProducer producer = new BatchProducer(RAW, 3, 2);
        assertThrows(IndexOutOfBoundsException.class, () -> x(producer, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> producer.window(-1, new int[6], new int[6]));
        assertThrows(IllegalArgumentException.class, () -> producer.window(0, new int[5], new int[6]));
    }

    /** Inputs of window i as [batch][steps], TensorFlow's batch-major view, from the time-major window. */
    static int[][] x(BatchProducer p, int i) {
        return batchMajor(p, i, true);
    }

    /** Targets of window i as [batch][steps]: the inputs shifted one step ahead. */
    static int[][] y(BatchProducer p, int i) {
        return batchMajor(p, i, false);
    }

    private static int[][] batchMajor(BatchProducer p, int i, boolean inputs) {
        int b = p.batchSize(), t = p.numSteps();
        int[] x = new int[b * t], y = new int[b * t];
        p.window(i, x, y);
        int[][] out = new int[b][t];
        for (int r = 0; r < b; r++) for (int s = 0; s < t; s++) out[r][s] = (inputs ? x : y)[s * b + r];
        return out;
    }
}
