package lstmlm.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.model.HeaderSeal;
import lstmlm.model.ModelFile;
import lstmlm.model.ModelFileException;
import lstmlm.model.SafetensorsFile;

import java.nio.file.Path;

/**
 * Model files from outside: any bytes given to {@link ModelFile#open} and {@link Model#load} are either
 * a model that works or a {@link ModelFileException} naming the file; never another exception, a JVM
 * crash in native code from a bad offset, an OutOfMemoryError or a hang.
 *
 * <p>{@link #modelFile} takes the bytes as they are: random damage, which the checksums refuse.
 * {@link #sealedModelFile} first recomputes both checksums, as a crafted file would have them, so the
 * fuzzer reaches every structural check behind them (offsets, dtypes, shapes, vocabulary, config)
 * and the inference code on whatever passes them.
 */
class ModelFileFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void modelFile(byte[] bytes) {
        check(FuzzFiles.write("model.safetensors", bytes));
    }

    @FuzzTest(maxDuration = "10s")
    void sealedModelFile(byte[] bytes) {
        check(FuzzFiles.write("sealed.safetensors", HeaderSeal.sealBoth(bytes)));
    }

    private static void check(Path file) {
        try (Model model = Model.load(file); Session session = model.newSession()) {
            int vocab = model.vocabularySize();
            session.feed(0);
            session.feed(vocab - 1);
            float[] p = session.probabilities();
            if (p.length != vocab) throw new AssertionError("probabilities for " + p.length + " words, not " + vocab);
        } catch (ModelFileException e) {
            FuzzFiles.assertNames(e.getMessage(), file, e);
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.tensors().keySet()) f.data(name).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0);
        } catch (ModelFileException e) {
            FuzzFiles.assertNames(e.getMessage(), file, e);
        } catch (IndexOutOfBoundsException e) {
            // an empty tensor has no byte 0; reading it is the harness's probe, not the reader's fault
            if (!e.getMessage().contains("byteSize = 0") && !e.getMessage().contains("size: 0")) throw e;
        }
    }
}
