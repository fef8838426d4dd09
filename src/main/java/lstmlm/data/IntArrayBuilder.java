package lstmlm.data;

import java.util.Arrays;

/** An int[] that grows as ids stream in, without boxing them. */
final class IntArrayBuilder {
    private int[] values = new int[1 << 16];
    private int size;

    void add(int value) {
        if (size == values.length) {
            values = Arrays.copyOf(values, size * 2);
        }
        values[size++] = value;
    }

    void increment(int index) {
        values[index]++;
    }

    int[] toArray() {
        return Arrays.copyOf(values, size);
    }
}
