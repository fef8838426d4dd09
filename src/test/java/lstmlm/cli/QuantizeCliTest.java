package lstmlm.cli;

import lstmlm.infer.BatchScorer;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.SafetensorsFile;
import lstmlm.modelfile.WeightFormat;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** quantize writes bf16 and int8 files that every command and the embedded API read like the fp32 one. */
class QuantizeCliTest {
    @TempDir
    Path tmp;

    static double perplexity(CliRun run) {
        return Double.parseDouble(run.out().strip().replaceAll(".*Perplexity: ", ""));
    }

    @Test
    void compactFilesScoreLikeTheFp32OneInEveryCommand() throws Exception {
        String data = TinyRun.corpus(tmp).toString();
        Path dir = tmp.resolve("run");
        CliRun train = CliRun.of("train", "--config", TinyRun.configFile(tmp).toString(), "--data-path", data,
                "--save-path", dir.toString(), "--threads", "1", "--max-epochs", "2", "--set", "hidden_size=32");
        assertEquals(0, train.exit(), train.err());
        Path fp32 = dir.resolve("model.safetensors");
        double base = perplexity(CliRun.of("eval", "--model", fp32.toString(), "--data-path", data, "--threads", "1"));
        for (WeightFormat format : List.of(WeightFormat.BF16, WeightFormat.INT8)) {
            Path out = tmp.resolve("model-" + format.key() + ".safetensors");
            CliRun q = CliRun.of("quantize", "--model", fp32.toString(), "--out", out.toString(), "--format", format.key());
            assertEquals(0, q.exit(), q.err());
            assertTrue(q.out().contains("Wrote " + out), q.out());
            try (ModelFile f = ModelFile.open(out); SafetensorsFile raw = SafetensorsFile.open(out)) {
                assertEquals(format, f.format());
                assertEquals(format.matrixType, raw.tensor("lstm.0.weight").dtype());
                assertEquals(lstmlm.modelfile.DType.F32, raw.tensor("lstm.0.bias").dtype());
                assertEquals(format == WeightFormat.INT8, raw.tensors().containsKey("softmax.weight.scale"));
                assertFalse(raw.tensors().containsKey("state.lstm"), "no training state");
                assertFalse(f.metadata().containsKey("global_step"), "no training position");
                assertTrue(Files.size(out) < Files.size(fp32), "smaller than the fp32 file");
            }
            CliRun eval = CliRun.of("eval", "--model", out.toString(), "--data-path", data, "--threads", "1");
            assertEquals(0, eval.exit(), eval.err());
            double ppl = perplexity(eval);
            assertEquals(base, ppl, (format == WeightFormat.INT8 ? 0.02 : 0.005) * base, format + " perplexity against fp32 " + base);
            CliRun score = CliRun.of("score", "--model", out.toString(), Path.of(data, "ptb.test.txt").toString());
            assertEquals(0, score.exit(), score.err());
            CliRun gen = CliRun.of("generate", "--model", out.toString(), "--words", "5", "--seed", "3");
            assertEquals(0, gen.exit(), gen.err());
            try (Model model = Model.load(out); Session s = model.newSession(); BatchScorer b = model.newBatchScorer(4)) {
                assertEquals(format, model.weightFormat());
                List<String> sentence = List.of("w1", "w8", "w26");
                double one = s.score(sentence).logProbability();
                assertEquals(one, b.score(List.of(sentence)).getFirst().logProbability(), 1e-4 * Math.abs(one));
            }
        }
        CliRun again = CliRun.of("quantize", "--model", tmp.resolve("model-int8.safetensors").toString(), "--out",
                tmp.resolve("x.safetensors").toString(), "--format", "bf16");
        assertEquals(2, again.exit());
        assertTrue(again.err().contains("already int8"), again.err());
        CliRun bad = CliRun.of("quantize", "--model", fp32.toString(), "--out", tmp.resolve("y.safetensors").toString(),
                "--format", "int4");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("--format: '") && bad.err().contains("' is not fp32, bf16 or int8."), bad.err());
    }
}
