package lstmlm.report;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * The training-curve picture: train and valid perplexity per epoch on a log axis, the learning
 * rate on a second (right) axis, one colour per run so several runs overlay. PNG or SVG, chosen
 * by the file's extension.
 */
public final class TrainingCurve {
    public static final int DEFAULT_WIDTH = 900, DEFAULT_HEIGHT = 560;

    static final Color[] RUN_COLOURS = {
            new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd),
            new Color(0xff7f0e), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf)};

    /** One run's points; {@code label} tells it apart in the legend when runs overlay. */
    public record Run(String label, List<MetricsFile.EpochPoint> epochs, OptionalDouble testPerplexity) {}

    public enum Format { PNG, SVG }

    private TrainingCurve() {}

    /** The image format for {@code file} from its extension; anything but .png or .svg is an error naming the file. */
    public static Format formatOf(Path file, String what) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".png")) return Format.PNG;
        if (name.endsWith(".svg")) return Format.SVG;
        int dot = name.lastIndexOf('.');
        String ext = dot >= 0 ? "'" + name.substring(dot) + "'" : "no extension";
        throw new ReportException(what + " " + file + ": unknown image extension (" + ext + "); use .png or .svg.");
    }

    /** Checks before any work that {@code file} can be drawn to: a known extension in a folder that exists. */
    public static Format checkOutput(Path file, String what) {
        Format format = formatOf(file, what);
        OutputPaths.checkWritable(file, what);
        return format;
    }

    /** Draws {@code runs} to {@code file}, written whole or not at all. */
    public static void write(List<Run> runs, String title, Path file, int width, int height) throws IOException {
        Format format = formatOf(file, "Plot");
        XYChart chart = chart(runs, title, width, height);
        OutputPaths.writeAtomically(file, out -> {
            if (format == Format.PNG) BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
            else VectorGraphicsEncoder.saveVectorGraphic(chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        });
    }

    static XYChart chart(List<Run> runs, String title, int width, int height) {
        if (runs.stream().allMatch(r -> r.epochs().isEmpty())) {
            throw new ReportException("Nothing to plot yet: no epoch has ended in " + runs.stream().map(Run::label).toList() + ".");
        }
        XYChart chart = new XYChartBuilder().width(width).height(height).title(title)
                .xAxisTitle("epoch").yAxisTitle("perplexity (log scale)").build();
        chart.setYAxisGroupTitle(1, "learning rate (log scale)");
        var style = chart.getStyler();
        style.setChartBackgroundColor(Color.WHITE);
        style.setPlotBackgroundColor(Color.WHITE);
        style.setPlotGridLinesColor(new Color(0xe4e4e4));
        style.setLegendPosition(Styler.LegendPosition.OutsideS);
        style.setLegendLayout(Styler.LegendLayout.Horizontal);
        style.setLegendBorderColor(Color.WHITE);
        // perplexity falls over orders of magnitude at first, then by a few percent: a log axis shows both
        style.setYAxisLogarithmic(true);
        style.setYAxisLogarithmicDecadeOnly(false);
        style.setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
        style.setXAxisDecimalPattern("0");
        style.setMarkerSize(6);

        // XChart's log ticks fall on 1..9 x 10^n: bounds on such values give every axis at least two labelled ticks
        double[] ppl = runs.stream().flatMap(r -> r.epochs().stream())
                .flatMapToDouble(p -> java.util.stream.DoubleStream.of(p.trainPerplexity(), p.validPerplexity())).toArray();
        double[] lr = runs.stream().flatMap(r -> r.epochs().stream()).mapToDouble(MetricsFile.EpochPoint::learningRate).toArray();
        double[] pplAxis = bound(style, 0, ppl), lrAxis = bound(style, 1, lr);
        style.setYAxisTickLabelsFormattingFunction(v -> tickLabel(v, pplAxis, lrAxis));

        boolean several = runs.size() > 1;
        Set<String> used = new HashSet<>();
        for (int i = 0; i < runs.size(); i++) {
            Run run = runs.get(i);
            if (run.epochs().isEmpty()) continue;
            Color colour = RUN_COLOURS[i % RUN_COLOURS.length];
            String prefix = several ? run.label() + " " : "";
            double[] x = run.epochs().stream().mapToDouble(MetricsFile.EpochPoint::epoch).toArray();
            series(chart, used, prefix + "train", x,
                    run.epochs().stream().mapToDouble(MetricsFile.EpochPoint::trainPerplexity).toArray(),
                    colour, SeriesLines.DASH_DASH, SeriesMarkers.CIRCLE, 0);
            String valid = prefix + "valid" + (run.testPerplexity().isPresent() && !several
                    ? String.format(Locale.ROOT, " (test %.2f)", run.testPerplexity().getAsDouble()) : "");
            series(chart, used, valid, x,
                    run.epochs().stream().mapToDouble(MetricsFile.EpochPoint::validPerplexity).toArray(),
                    colour, SeriesLines.SOLID, SeriesMarkers.DIAMOND, 0);
            series(chart, used, prefix + "learning rate (right)", x,
                    run.epochs().stream().mapToDouble(MetricsFile.EpochPoint::learningRate).toArray(),
                    blend(colour), SeriesLines.DOT_DOT, x.length == 1 ? SeriesMarkers.SQUARE : SeriesMarkers.NONE, 1);
        }
        return chart;
    }

    private static void series(XYChart chart, Set<String> used, String name, double[] x, double[] y,
                               Color colour, java.awt.BasicStroke line, org.knowm.xchart.style.markers.Marker marker, int axis) {
        // XChart needs unique series names; two runs may share a file name from different folders
        String unique = name;
        for (int n = 2; !used.add(unique); n++) unique = name + " #" + n;
        XYSeries s = chart.addSeries(unique, x, y);
        s.setLineColor(colour);
        s.setLineStyle(line);
        s.setMarker(marker);
        s.setMarkerColor(colour);
        s.setYAxisGroup(axis);
    }

    /** Sets the axis's bounds on log ticks around {@code values}; returns them, {min, max}. */
    private static double[] bound(org.knowm.xchart.style.XYStyler style, int axis, double[] values) {
        double min = java.util.Arrays.stream(values).min().orElseThrow(), max = java.util.Arrays.stream(values).max().orElseThrow();
        if (min == max) { // one epoch, or a constant learning rate: a flat axis shows nothing
            min *= 0.9;
            max *= 1.1;
        }
        double[] bounds = {tickBelow(min), tickAbove(max)};
        style.setYAxisMin(axis, bounds[0]);
        style.setYAxisMax(axis, bounds[1]);
        return bounds;
    }

    /**
     * The label of the log tick at {@code v} (d x 10^n), or "" for none. XChart labels every tick of a
     * log axis: a learning rate that falls over four decades (medium's 1 to 0.0006) stacked 36 labels,
     * 0.9 over 0.8 over 0.7, and printed 0.0006 to 0.0014 all as "0.001". So an axis labels every d
     * while it spans at most 1.3 decades, d = 1, 2, 5 up to 2.5 and only the decades beyond; the
     * formatting function is one for both y axes, so a value on both gets the labels of either.
     * Two significant digits, no grouping; below 10^-4 in e-notation.
     */
    static String tickLabel(double v, double[] leftAxis, double[] rightAxis) {
        if (!(v > 0)) return "";
        int exponent = (int) Math.floor(Math.log10(v) + 1e-9);
        int digit = (int) Math.round(v / Math.pow(10, exponent));
        boolean labelled = (on(v, leftAxis) && shows(leftAxis, digit)) || (on(v, rightAxis) && shows(rightAxis, digit));
        if (!labelled) return "";
        if (v < 1e-4) return digit + "e" + exponent;
        return new java.math.BigDecimal(v).round(new java.math.MathContext(2)).stripTrailingZeros().toPlainString();
    }

    private static boolean on(double v, double[] axis) {
        return v >= axis[0] * (1 - 1e-9) && v <= axis[1] * (1 + 1e-9);
    }

    private static boolean shows(double[] axis, int digit) {
        double decades = Math.log10(axis[1] / axis[0]);
        if (decades <= 1.3) return true;
        if (decades <= 2.5) return digit == 1 || digit == 2 || digit == 5 || digit == 10;
        return digit == 1 || digit == 10;
    }

    /** The largest d x 10^n (d in 1..9) at or below {@code v}: where XChart puts a log tick. */
    static double tickBelow(double v) {
        if (!(v > 0)) return v;
        double decade = Math.pow(10, Math.floor(Math.log10(v)));
        return Math.floor(v / decade * (1 + 1e-9)) * decade;
    }

    /** The smallest d x 10^n (d in 1..10) at or above {@code v}. */
    static double tickAbove(double v) {
        if (!(v > 0)) return v;
        double decade = Math.pow(10, Math.floor(Math.log10(v)));
        return Math.ceil(v / decade * (1 - 1e-9)) * decade;
    }

    /** The learning rate in a lighter shade of its run's colour: context, not the story. */
    static Color blend(Color c) {
        return new Color((c.getRed() + 2 * 160) / 3, (c.getGreen() + 2 * 160) / 3, (c.getBlue() + 2 * 160) / 3);
    }
}
