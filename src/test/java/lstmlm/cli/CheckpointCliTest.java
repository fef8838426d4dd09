package lstmlm.cli;

import lstmlm.train.Checkpoint;
import lstmlm.train.CheckpointStore;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train --save-path, train --resume and eval from the command line, on the tiny corpus. */
class CheckpointCliTest {
    @TempDir
    Path tmp;

    static String lines(String log, String prefix) {
        return Arrays.stream(log.split("\n")).filter(l -> l.contains(prefix)).reduce("", (a, b) -> a + b + "\n");
    }

    @Test
    void trainResumeAndEvalFromTheCommandLine() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path straight = tmp.resolve("straight"), split = tmp.resolve("split");
        CliRun a = CliRun.of("train", "--config", config, "--data-path", data, "--save-path", straight.toString(),
                "--seed", "9", "--threads", "1", "--max-epochs", "2");
        assertEquals(0, a.exit(), a.err());
        CliRun b1 = CliRun.of("train", "--config", config, "--data-path", data, "--save-path", split.toString(),
                "--seed", "9", "--threads", "1", "--max-epochs", "1", "--checkpoint-every", "50", "--keep", "2");
        assertEquals(0, b1.exit(), b1.err());
        assertEquals(2, CheckpointStore.checkpoints(split).size(), "--keep 2");
        assertTrue(Files.exists(split.resolve("best.safetensors")));

        // a flag that changes the maths is refused; --threads and --max-epochs are not maths
        CliRun conflict = CliRun.of("train", "--resume", split.toString(), "--data-path", data, "--seed", "10", "--set", "keep_prob=0.9");
        assertEquals(2, conflict.exit());
        assertTrue(conflict.err().contains("keep_prob=0.9") && conflict.err().contains("--seed 10"), conflict.err());

        CliRun b2 = CliRun.of("train", "--resume", split.toString(), "--data-path", data, "--threads", "1", "--max-epochs", "2");
        assertEquals(0, b2.exit(), b2.err());
        assertTrue(b2.out().matches("(?s).*Resumed from .*: epoch 2, step 0, global step \\d+, after \\d+\\.\\d s of training\n.*"), b2.out());
        assertEquals(lines(a.out(), "Valid Perplexity"), lines(b1.out() + b2.out(), "Valid Perplexity"));
        assertEquals(lines(a.out(), "Test Perplexity").lines().toList().getLast(),
                lines(b2.out(), "Test Perplexity").strip());
        try (Checkpoint x = Checkpoint.load(straight.resolve("model.safetensors"));
             Checkpoint y = Checkpoint.load(split.resolve("model.safetensors"))) {
            assertArrayEquals(lstmlm.train.TinyRun.weights(x), lstmlm.train.TinyRun.weights(y));
            assertEquals(x.metadata().get("tensors.sha256"), y.metadata().get("tensors.sha256"));
        }

        // eval prints what training printed for test
        CliRun eval = CliRun.of("eval", "--model", straight.resolve("model.safetensors").toString(), "--data-path", data,
                "--threads", "1");
        assertEquals(0, eval.exit(), eval.err());
        assertEquals(lines(a.out(), "Test Perplexity").lines().toList().getLast(), eval.out().strip());
        CliRun valid = CliRun.of("eval", "--model", straight.resolve("best.safetensors").toString(), "--data-path", data,
                "--split", "valid", "--threads", "1");
        assertTrue(valid.out().startsWith("Valid Perplexity: "), valid.out());
    }

    @Test
    void aFinishedRunExtendedWithMaxMaxEpochIsTheLongerRun() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path straight = tmp.resolve("straight"), extended = tmp.resolve("extended");
        // the plateau schedule: the rate after epoch 2 depends on the history the checkpoint carries
        CliRun a = CliRun.of("train", "--config", config, "--data-path", data, "--save-path", straight.toString(),
                "--seed", "9", "--threads", "1", "--set", "lr_schedule=plateau", "--set", "max_max_epoch=3");
        assertEquals(0, a.exit(), a.err());
        CliRun b1 = CliRun.of("train", "--config", config, "--data-path", data, "--save-path", extended.toString(),
                "--seed", "9", "--threads", "1", "--set", "lr_schedule=plateau", "--set", "max_max_epoch=2");
        assertEquals(0, b1.exit(), b1.err());
        assertTrue(b1.out().contains("Test Perplexity"), "the shorter run finished: " + b1.out());

        CliRun past = CliRun.of("train", "--resume", extended.toString(), "--data-path", data, "--threads", "1", "--max-epochs", "3");
        assertEquals(2, past.exit());
        assertTrue(past.err().contains("--set max_max_epoch=3"), past.err());
        CliRun below = CliRun.of("train", "--resume", extended.toString(), "--data-path", data, "--set", "max_max_epoch=1");
        assertEquals(2, below.exit());
        assertTrue(below.err().contains("below epoch 2"), below.err());

        // --config on a resume is checked against the checkpoint, but its max_max_epoch (3 in the file) is not
        // taken: the finished run stays finished (it only evaluates test again); --set max_max_epoch extends it
        CliRun again = CliRun.of("train", "--resume", extended.toString(), "--config", config, "--data-path", data,
                "--threads", "1", "--set", "lr_schedule=plateau");
        assertEquals(0, again.exit(), again.err());
        assertTrue(!again.out().contains("Epoch: 3") && again.out().contains("Test Perplexity"), again.out());
        CliRun b2 = CliRun.of("train", "--resume", extended.toString(), "--config", config, "--data-path", data,
                "--threads", "1", "--set", "lr_schedule=plateau", "--set", "max_max_epoch=3");
        assertEquals(0, b2.exit(), b2.err());
        assertTrue(b2.out().contains("Epoch: 3 Learning rate"), b2.out());
        assertEquals(lines(a.out(), "Valid Perplexity"), lines(b1.out() + b2.out(), "Valid Perplexity"));
        assertEquals(lines(a.out(), "Learning rate"), lines(b1.out() + b2.out(), "Learning rate"));
        assertEquals(lines(a.out(), "Test Perplexity"), lines(b2.out(), "Test Perplexity"));
        try (Checkpoint x = Checkpoint.load(straight.resolve("model.safetensors"));
             Checkpoint y = Checkpoint.load(extended.resolve("model.safetensors"))) {
            assertArrayEquals(TinyRun.weights(x), TinyRun.weights(y));
            assertEquals(x.metadata().get("tensors.sha256"), y.metadata().get("tensors.sha256"));
            assertEquals(3, y.config().maxMaxEpoch(), "the extended run's files say how far it was trained");
        }
    }

    @Test
    void aBf16RunEvaluatesInEitherPrecisionAndKeepsItsPrecisionOnResume() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path dir = tmp.resolve("bf16");
        CliRun train = CliRun.of("train", "--config", config, "--data-path", data, "--save-path", dir.toString(),
                "--seed", "9", "--threads", "1", "--max-epochs", "1", "--precision", "bf16",
                "--set", "vocab_size=31"); // the corpus's 30 words and <eos>: inference wants a word per class
        assertEquals(0, train.exit(), train.err());
        // with native bf16 the GEMMs run in oneDNN; without, in fp32, and the run says so (ProductPolicy.gemmPrecision)
        assertTrue(train.out().contains(lstmlm.natives.OneDnn.nativeBf16() ? "Precision bf16: oneDNN"
                : "warning: precision bf16 asked for, but this CPU has no AVX-512 BF16 or AMX"), train.out());
        String model = dir.resolve("model.safetensors").toString();
        CliRun same = CliRun.of("eval", "--model", model, "--data-path", data, "--threads", "1");
        assertEquals(lines(train.out(), "Test Perplexity").strip(), same.out().strip(), "eval runs in the model's precision");
        CliRun fp32 = CliRun.of("eval", "--model", model, "--data-path", data, "--threads", "1", "--precision", "fp32");
        assertEquals(0, fp32.exit(), fp32.err());
        double a = Double.parseDouble(same.out().strip().replace("Test Perplexity: ", ""));
        double b = Double.parseDouble(fp32.out().strip().replace("Test Perplexity: ", ""));
        assertTrue(Math.abs(a - b) / b < 0.01, "bf16 " + a + " vs fp32 " + b + " on the same weights");
        try (lstmlm.infer.Model m = lstmlm.infer.Model.load(dir.resolve("model.safetensors"))) {
            assertTrue(m.newSession().score(List.of("w1", "w8")).logProbability() < 0); // inference reads it as any model
        }
        CliRun other = CliRun.of("train", "--resume", dir.toString(), "--data-path", data, "--precision", "fp32");
        assertEquals(2, other.exit());
        assertTrue(other.err().contains("precision=fp32 (checkpoint: bf16)"), other.err());
    }

    @Test
    void aBadModelFileIsAClearErrorNotAStackTrace() throws Exception {
        Path bad = Files.writeString(tmp.resolve("bad.safetensors"), "not a model at all");
        CliRun r = CliRun.of("eval", "--model", bad.toString(), "--data-path", tmp.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("error: Bad model file " + bad), r.err());
        CliRun none = CliRun.of("train", "--resume", tmp.resolve("empty").toString());
        assertEquals(2, none.exit());
        assertTrue(none.err().contains("No checkpoint to resume from"), none.err());
    }
}
