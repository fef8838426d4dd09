package lstmlm.cli;

import lstmlm.report.MetricsFile;
import lstmlm.report.MetricsTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Print a run's per-epoch table from its `lstm train --metrics` file, as Markdown: learning rate, "
                + "train and valid perplexity, training speed; then the best validation epoch, the test perplexity and the "
                + "training time. Works on a run still going (it tabulates the epochs done so far).",
                "Example: lstm report ~/runs/medium/metrics.jsonl"})
final class ReportCommand implements Callable<Integer> {

    @Parameters(arity = "1", paramLabel = "METRICS.jsonl", description = "The metrics file a run writes with --metrics.")
    Path file;

    @Override
    public Integer call() {
        System.out.print(MetricsTable.markdown(MetricsFile.read(file)));
        return 0;
    }
}
