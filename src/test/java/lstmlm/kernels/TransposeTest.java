package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TransposeTest {
    @ParameterizedTest
    @CsvSource({"1,1", "3,70", "33,31", "200,800"})
    void everyElementLandsAtItsMirrorWhateverTheRowSplit(int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = random(arena, 5 + (long) rows * cols, new SplittableRandom(rows), -1f, 1f);
            MemorySegment dst = arena.allocate(4 * (3 + (long) rows * cols), 64);
            int half = rows / 2;
            Transpose.copy(src, 5, rows, cols, dst, 3, 0, half);
            Transpose.copy(src, 5, rows, cols, dst, 3, half, rows);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    assertEquals(src.getAtIndex(ValueLayout.JAVA_FLOAT, 5 + (long) i * cols + j),
                            dst.getAtIndex(ValueLayout.JAVA_FLOAT, 3 + (long) j * rows + i), "(" + i + "," + j + ")");
                }
            }
        }
    }
}
