package lstmlm.natives;

import java.util.EnumMap;
import java.util.Map;

/**
 * What the loaded oneDNN can do on this CPU, for tests that need it. Its bf16 matmul primitive
 * exists only on CPUs with AVX-512 (oneDNN answers "unimplemented", status 3, on AVX2 alone); the
 * engine uses it only where {@link OneDnn#nativeBf16()} holds, so on other CPUs its tests have
 * nothing to test. The float32 one exists wherever oneDNN runs.
 */
public final class OneDnnSupport {
    private static final Map<PackedMatmul.Element, Boolean> PACKED = new EnumMap<>(PackedMatmul.Element.class);

    private OneDnnSupport() {}

    public static synchronized boolean packedMatmul(PackedMatmul.Element element) {
        return PACKED.computeIfAbsent(element, e -> {
            try (PackedMatmul probe = new PackedMatmul(e, 2, 16, 16, 16, false, 16, 16, true)) {
                return true;
            } catch (IllegalStateException x) {
                if (!x.getMessage().contains("status 3")) throw x; // anything but "unimplemented" is a failure
                return false;
            }
        });
    }
}
