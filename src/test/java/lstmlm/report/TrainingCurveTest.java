package lstmlm.report;

import lstmlm.train.TrainingListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalDouble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The picture: it opens, both runs and the learning rate are drawn, bad paths are errors, failures only warn. */
class TrainingCurveTest {
    @TempDir
    Path dir;

    /** A run whose perplexities and learning rates are {@code scale} times a typical run's, so runs do not overlap. */
    static TrainingCurve.Run run(String label, double scale) {
        List<MetricsFile.EpochPoint> points = List.of(
                new MetricsFile.EpochPoint(1, scale, 900 * scale, 400 * scale),
                new MetricsFile.EpochPoint(2, scale, 300 * scale, 250 * scale),
                new MetricsFile.EpochPoint(3, 0.5 * scale, 200 * scale, 190 * scale),
                new MetricsFile.EpochPoint(4, 0.25 * scale, 160 * scale, 170 * scale));
        return new TrainingCurve.Run(label, points, OptionalDouble.of(165 * scale));
    }

    static long pixelsOf(BufferedImage image, Color colour) {
        long n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) if ((image.getRGB(x, y) & 0xffffff) == (colour.getRGB() & 0xffffff)) n++;
        }
        return n;
    }

    @Test
    void aPngOpensAndShowsEachRunAndItsLearningRate() throws Exception {
        Path png = dir.resolve("curves.png");
        TrainingCurve.write(List.of(run("small", 1), run("medium", 0.5)), "two runs", png, 800, 500);
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, "a PNG ImageIO can read");
        assertEquals(800, image.getWidth());
        assertEquals(500, image.getHeight());
        Color first = TrainingCurve.RUN_COLOURS[0], second = TrainingCurve.RUN_COLOURS[1];
        // lines and markers in each run's colour, the learning rate in its lighter shade
        assertTrue(pixelsOf(image, first) > 200, "run 1 drawn");
        assertTrue(pixelsOf(image, second) > 200, "run 2 drawn");
        assertTrue(pixelsOf(image, TrainingCurve.blend(first)) > 50, "run 1's learning rate drawn");
        assertTrue(pixelsOf(image, TrainingCurve.blend(second)) > 50, "run 2's learning rate drawn");
        assertTrue(pixelsOf(image, TrainingCurve.RUN_COLOURS[2]) == 0, "no third run");
        try (var files = Files.list(dir)) {
            assertEquals(List.of(png), files.toList(), "no temporary file left beside the picture");
        }
    }

    @Test
    void anSvgIsTextWithTheSeriesNames() throws Exception {
        Path svg = dir.resolve("curve.svg");
        TrainingCurve.write(List.of(run("only", 1)), "one run", svg, 800, 500);
        String text = Files.readString(svg);
        assertTrue(text.contains("<svg"), text.substring(0, Math.min(200, text.length())));
    }

    @Test
    void oneEpochIsEnoughToDraw() throws Exception {
        Path png = dir.resolve("first.png");
        var one = new TrainingCurve.Run("first", List.of(new MetricsFile.EpochPoint(1, 1.0, 500, 420)), OptionalDouble.empty());
        TrainingCurve.write(List.of(one), "after epoch 1", png, 600, 400);
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image);
        // single points have no line: their markers must show, the learning rate's too
        assertTrue(pixelsOf(image, TrainingCurve.RUN_COLOURS[0]) > 20, "train and valid points drawn");
        assertTrue(pixelsOf(image, TrainingCurve.blend(TrainingCurve.RUN_COLOURS[0])) > 10, "learning rate point drawn");
    }

    @Test
    void logAxisBoundsFallOnTicks() {
        assertEquals(400, TrainingCurve.tickBelow(412.4), 1e-9);
        assertEquals(700, TrainingCurve.tickAbove(622.1), 1e-9);
        assertEquals(0.1, TrainingCurve.tickBelow(0.125), 1e-12);
        assertEquals(1, TrainingCurve.tickAbove(1.0), 1e-12);
        assertEquals(1000, TrainingCurve.tickAbove(901), 1e-9);
    }

    /**
     * medium's axes: perplexity 40..400 keeps a label on every tick; the learning rate over
     * 0.0006..1 (TF's x0.8 decay for 33 epochs) is labelled on its decades only, each label once.
     */
    @Test
    void aLearningRateOverFourDecadesIsLabelledOnItsDecadesOnly() {
        double[] ppl = {40, 400}, lr = {0.0006, 1};
        List<String> pplLabels = new java.util.ArrayList<>(), lrLabels = new java.util.ArrayList<>();
        for (int e = -4; e <= 2; e++) {
            for (int d = 1; d <= 9; d++) {
                double v = d * Math.pow(10, e);
                String label = TrainingCurve.tickLabel(v, ppl, lr);
                if (label.isEmpty()) continue;
                (v >= 40 ? pplLabels : lrLabels).add(label);
            }
        }
        assertEquals(List.of("40", "50", "60", "70", "80", "90", "100", "200", "300", "400"), pplLabels);
        assertEquals(List.of("0.001", "0.01", "0.1", "1"), lrLabels);
        // two decades and a half: 1, 2 and 5; and floating-point tick values still find their digit
        double[] mid = {0.01, 2};
        assertEquals("0.02", TrainingCurve.tickLabel(0.020000000000000004, ppl, mid));
        assertEquals("", TrainingCurve.tickLabel(0.03, ppl, mid));
        assertEquals("0.5", TrainingCurve.tickLabel(0.5, ppl, mid));
        assertEquals("1e-5", TrainingCurve.tickLabel(1e-5, ppl, new double[] {1e-6, 1e-5}));
        assertEquals("", TrainingCurve.tickLabel(1000, ppl, lr), "off both axes");
    }

    @Test
    void anUnknownExtensionOrMissingFolderIsAnErrorNamingTheFile() {
        Path jpg = dir.resolve("curve.jpg");
        var e = assertThrows(ReportException.class, () -> TrainingCurve.checkOutput(jpg, "--plot"));
        assertTrue(e.getMessage().contains(jpg.toString()) && e.getMessage().contains("'.jpg'")
                && e.getMessage().contains(".png or .svg"), e.getMessage());
        Path nowhere = dir.resolve("missing").resolve("curve.png");
        e = assertThrows(ReportException.class, () -> TrainingCurve.checkOutput(nowhere, "--plot"));
        assertTrue(e.getMessage().contains(nowhere.toString()) && e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void aPlotThatCannotBeWrittenWarnsOnceAndTrainingGoesOn() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("plots"));
        ByteArrayOutputStream warnings = new ByteArrayOutputStream();
        CurvePlotter plotter = new CurvePlotter(folder.resolve("curve.png"), "vanishing", List.of(),
                new PrintStream(warnings, true, StandardCharsets.UTF_8));
        Files.delete(folder); // after the start-up check: as if the disk went away mid-run
        plotter.onEpoch(new TrainingListener.EpochEnd(1, 1.0, 300, 280, 1000, 1));
        plotter.onEpoch(new TrainingListener.EpochEnd(2, 1.0, 200, 190, 1000, 2));
        plotter.onTest(new TrainingListener.TestEnd(2, 185, 3));
        String text = warnings.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("curve.png") && text.contains("training goes on"), text);
        assertEquals(1, text.lines().count(), "warned once: " + text);
    }

    @Test
    void thePlotterRedrawsAfterEachEpochWithTheEarlierOnes() throws Exception {
        Path png = dir.resolve("live.png");
        CurvePlotter plotter = new CurvePlotter(png, "resumed",
                List.of(new MetricsFile.EpochPoint(1, 1.0, 400, 350)), System.err);
        plotter.onEpoch(new TrainingListener.EpochEnd(2, 1.0, 300, 280, 1000, 1));
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image);
        assertTrue(pixelsOf(image, TrainingCurve.RUN_COLOURS[0]) > 100, "the curve is drawn");
    }
}
