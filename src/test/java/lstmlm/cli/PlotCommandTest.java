package lstmlm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** lstm plot: one run or several overlaid, and errors that name the file. */
class PlotCommandTest {
    @TempDir
    Path tmp;

    static Path metrics(Path dir, String name, double scale) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int epoch = 1; epoch <= 4; epoch++) {
            double lr = epoch <= 2 ? 1 : Math.pow(0.5, epoch - 2);
            sb.append(String.format(java.util.Locale.ROOT,
                    "{\"event\":\"progress\",\"epoch\":%d,\"step\":11,\"epoch_size\":100,\"lr\":%s,\"train_ppl\":%s,\"wps\":1000,\"elapsed_s\":%d}%n",
                    epoch, lr, 1000.0 * scale / epoch, epoch * 10 - 5));
            sb.append(String.format(java.util.Locale.ROOT,
                    "{\"event\":\"epoch\",\"epoch\":%d,\"lr\":%s,\"train_ppl\":%s,\"valid_ppl\":%s,\"wps\":1000,\"elapsed_s\":%d}%n",
                    epoch, lr, 600.0 * scale / epoch, 500.0 * scale / Math.sqrt(epoch), epoch * 10));
        }
        sb.append("{\"event\":\"test\",\"epoch\":4,\"test_ppl\":").append(240 * scale).append(",\"elapsed_s\":41}\n");
        return Files.writeString(dir.resolve(name), sb.toString());
    }

    @Test
    void overlaysTwoRunsLabelledByFileName() throws Exception {
        Path a = metrics(tmp, "small.jsonl", 1), b = metrics(tmp, "medium.jsonl", 0.6);
        Path png = tmp.resolve("both.png");
        var run = CliRun.of("plot", a.toString(), b.toString(), png.toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().contains("small") && run.out().contains("medium"), run.out());
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image);
        assertEquals(900, image.getWidth(), "the default width");
        // both runs' colours are in the picture
        assertTrue(lstmlm.report.TrainingCurveTestAccess.pixelsOfRun(image, 0) > 200, "first run drawn");
        assertTrue(lstmlm.report.TrainingCurveTestAccess.pixelsOfRun(image, 1) > 200, "second run drawn");
    }

    @Test
    void oneRunToSvgWithATitleAndSize() throws Exception {
        Path a = metrics(tmp, "small.jsonl", 1);
        Path svg = tmp.resolve("small.svg");
        var run = CliRun.of("plot", "--title", "PTB small", "--width", "640", "--height", "400", a.toString(), svg.toString());
        assertEquals(0, run.exit(), run.err());
        String text = Files.readString(svg);
        assertTrue(text.contains("<svg") && text.contains("640"), text.substring(0, Math.min(300, text.length())));
    }

    @Test
    void badInputIsAnErrorNamingTheFile() throws Exception {
        Path good = metrics(tmp, "good.jsonl", 1);
        Path log = Files.writeString(tmp.resolve("train.log"), "Epoch: 1 Learning rate: 1.000\n");
        var notJson = CliRun.of("plot", log.toString(), tmp.resolve("out.png").toString());
        assertEquals(2, notJson.exit());
        assertTrue(notJson.err().contains(log.toString()) && notJson.err().contains("line 1 is not JSON"), notJson.err());
        assertFalse(notJson.err().contains("at lstmlm."), "no stack trace: " + notJson.err());
        assertFalse(Files.exists(tmp.resolve("out.png")));

        Path missingDir = tmp.resolve("nowhere").resolve("out.png");
        var noFolder = CliRun.of("plot", good.toString(), missingDir.toString());
        assertEquals(2, noFolder.exit());
        assertTrue(noFolder.err().contains(missingDir.toString()) && noFolder.err().contains("does not exist"), noFolder.err());

        var badExtension = CliRun.of("plot", good.toString(), tmp.resolve("out.bmp").toString());
        assertEquals(2, badExtension.exit());
        assertTrue(badExtension.err().contains("out.bmp") && badExtension.err().contains("'.bmp'"), badExtension.err());

        var missingFile = CliRun.of("plot", tmp.resolve("gone.jsonl").toString(), tmp.resolve("out.png").toString());
        assertEquals(2, missingFile.exit());
        assertTrue(missingFile.err().contains("gone.jsonl") && missingFile.err().contains("does not exist"), missingFile.err());

        Path empty = Files.writeString(tmp.resolve("empty.jsonl"), "");
        var noEpochs = CliRun.of("plot", empty.toString(), tmp.resolve("out.png").toString());
        assertEquals(2, noEpochs.exit());
        assertTrue(noEpochs.err().contains("empty.jsonl") && noEpochs.err().contains("no epoch"), noEpochs.err());

        var onlyOne = CliRun.of("plot", good.toString());
        assertEquals(2, onlyOne.exit(), "a metrics file and an output are both needed");
    }

    @Test
    void everyCommandsHelpShowsItsDefaults() {
        var plot = CliRun.of("plot", "--help");
        assertEquals(0, plot.exit());
        assertTrue(plot.out().contains("Default: 900") && plot.out().contains("Default: 560"), plot.out());
        var train = CliRun.of("train", "--help");
        assertEquals(0, train.exit());
        assertTrue(train.out().contains("--metrics") && train.out().contains("--plot") && train.out().contains("--no-progress"), train.out());
        assertTrue(train.out().contains("(default: 3)"), "--keep's default: " + train.out());
    }
}
