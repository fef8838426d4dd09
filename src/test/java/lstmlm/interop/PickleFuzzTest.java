package lstmlm.interop;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.lang.foreign.MemorySegment;

/**
 * State-dict pickles from outside: any bytes given to the restricted reader and the RNNModel mapping are
 * a model or a {@link TorchFileException} with one line; never another exception, an OutOfMemoryError
 * from a size the bytes claim, a hang, or anything run. Every storage a pickle names reads as 4 KiB of
 * bytes that depend on its key, so the bounds checks of views are reached. Seeds: the data.pkl of the
 * PyTorch fixtures (PickleFuzzTestInputs).
 */
public class PickleFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void stateDictPickles(byte[] bytes) {
        try {
            StateDict sd = StateDict.fromPickle(bytes, "fuzz.pt", key -> {
                byte[] b = new byte[4096];
                for (int i = 0; i < b.length; i++) b[i] = (byte) (key.hashCode() * 31 + i * 7);
                return MemorySegment.ofArray(b);
            });
            RnnModel.Imported m = RnnModel.toEngine(sd);
            check(m.params().length == new lstmlm.modelfile.ParameterLayout(m.shape()).size, "slab size");
        } catch (TorchFileException e) {
            String msg = e.getMessage();
            check(msg != null && !msg.isEmpty() && msg.lines().count() == 1, "message: " + msg);
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }
}
