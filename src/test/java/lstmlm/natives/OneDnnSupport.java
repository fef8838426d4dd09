package lstmlm.natives;

/**
 * What the loaded oneDNN can do on this CPU, for tests that need it. Its bf16 matmul primitive (what
 * {@link PackedBf16Matmul} builds) exists only on CPUs with AVX-512 (oneDNN answers "unimplemented",
 * status 3, on AVX2 alone); the engine uses it only where {@link OneDnn#nativeBf16()} holds, so on
 * other CPUs its tests have nothing to test.
 */
public final class OneDnnSupport {
    private static Boolean packedMatmul;

    private OneDnnSupport() {}

    public static synchronized boolean packedBf16Matmul() {
        if (packedMatmul == null) {
            try (PackedBf16Matmul probe = new PackedBf16Matmul(2, 16, 16, 16, false, 16, 16)) {
                packedMatmul = true;
            } catch (IllegalStateException e) {
                if (!e.getMessage().contains("status 3")) throw e; // anything but "unimplemented" is a failure
                packedMatmul = false;
            }
        }
        return packedMatmul;
    }
}
