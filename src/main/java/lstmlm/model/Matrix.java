package lstmlm.model;

/**
 * A matrix operand of a window product, as the product reads it: {@code rows × cols}, from
 * {@code offset} elements into {@code slab}, stored rows {@code ld} elements apart; when
 * {@code transposed} the stored matrix is {@code cols × rows} and is read transposed ({@link #t}).
 * A product reads the slab's float32 side or its bf16 mirror at the same offset, and writes float32.
 */
record Matrix(Slab slab, long offset, int rows, int cols, int ld, boolean transposed) {
    Matrix {
        if (rows < 0 || cols < 0 || offset < 0 || ld < (transposed ? rows : cols)) {
            throw new IllegalArgumentException("bad operand: " + rows + " x " + cols + " at " + offset + ", ld " + ld);
        }
    }

    /** A dense {@code rows × cols} matrix at {@code offset}: rows {@code cols} elements apart. */
    static Matrix of(Slab slab, long offset, int rows, int cols) {
        return new Matrix(slab, offset, rows, cols, cols, false);
    }

    /** The same memory read as its transpose. */
    Matrix t() {
        return new Matrix(slab, offset, cols, rows, ld, !transposed);
    }
}
