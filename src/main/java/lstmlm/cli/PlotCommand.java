package lstmlm.cli;

import lstmlm.errors.UserException;
import lstmlm.report.MetricsFile;
import lstmlm.report.TrainingCurve;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "plot", mixinStandardHelpOptions = true,
        description = {"Draw the training curve from `lstm train --metrics` files: train and valid perplexity per epoch "
                + "on a log axis, learning rate on a second axis. Several metrics files overlay, each labelled by its file name.",
                "Example: lstm plot small.jsonl medium.jsonl curves.png"})
final class PlotCommand implements Callable<Integer> {

    @Parameters(arity = "2..*", paramLabel = "FILE",
            description = "One or more METRICS.jsonl files, then the picture to write: OUT.png or OUT.svg.")
    List<Path> files;

    @Option(names = "--title", paramLabel = "TEXT",
            description = "The chart's title. Default: \"Training curve\" and the run's label.")
    String title;

    @Option(names = "--width", paramLabel = "PX", defaultValue = "" + TrainingCurve.DEFAULT_WIDTH,
            description = "Picture width in pixels. Default: ${DEFAULT-VALUE}.")
    int width;

    @Option(names = "--height", paramLabel = "PX", defaultValue = "" + TrainingCurve.DEFAULT_HEIGHT,
            description = "Picture height in pixels. Default: ${DEFAULT-VALUE}.")
    int height;

    @Override
    public Integer call() {
        if (width < 100 || height < 100 || width > 10_000 || height > 10_000) {
            throw new UserException("--width and --height must be 100 to 10000 pixels, got " + width + "x" + height + ".");
        }
        Path out = files.getLast();
        List<Path> inputs = files.subList(0, files.size() - 1);
        try {
            TrainingCurve.checkOutput(out, "Output");
            List<MetricsFile> read = new ArrayList<>();
            for (Path in : inputs) read.add(MetricsFile.read(in));
            List<TrainingCurve.Run> runs = new ArrayList<>();
            Set<String> labels = new HashSet<>();
            for (MetricsFile m : read) labels.add(m.label());
            boolean clash = labels.size() < read.size(); // same file name in two folders: the paths tell them apart
            for (MetricsFile m : read) {
                m.requireEpochs("plot");
                runs.add(m.toRun(clash ? m.file().toString() : m.label()));
            }
            String chartTitle = title != null ? title
                    : runs.size() == 1 ? "Training curve: " + runs.getFirst().label() : "Training curves";
            TrainingCurve.write(runs, chartTitle, out, width, height);
            System.out.printf("Wrote %s: %s%n", out, String.join(", ", runs.stream().map(TrainingCurve.Run::label).toList()));
            return 0;
        } catch (IOException e) {
            throw new UserException("Cannot write " + out + ": " + e.getMessage());
        }
    }
}
