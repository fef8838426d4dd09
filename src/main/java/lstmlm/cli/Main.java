package lstmlm.cli;

import lstmlm.errors.UserException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code lstm} command: one subcommand per use. */
@Command(name = "lstm", mixinStandardHelpOptions = true, version = "lstm-lm 0.1.0",
        description = "Word-level LSTM language models on the CPU (TensorFlow's PTB tutorial, in Java).",
        subcommands = {TrainCommand.class, EvalCommand.class, BenchCommand.class, GenerateCommand.class, ScoreCommand.class,
                QuantizeCommand.class, PlotCommand.class, ReportCommand.class, ServeCommand.class, ImportCommand.class,
                ExportCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        // the charts (--plot, lstm plot) draw off-screen: AWT must not look for a display it does not need.
        // Set here, where the process starts, not by the library code that draws.
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // Bad input is the user's to fix, and a file that cannot be read or written is named: say what
            // and how in one line, without a stack trace.
            if (e instanceof UserException || e instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /** Tells, on stderr, that a file of the older format had its tensors checked but not its header. */
    static void noteUnverifiedHeader(java.nio.file.Path file, boolean headerVerified) {
        if (headerVerified) return;
        System.err.println("note: " + file + " was written before header checksums (format 1): its tensors were verified,"
                + " its config and vocabulary were not. `lstm quantize --model " + file + " --out NEW.safetensors"
                + " --format fp32` rewrites it in the current format.");
    }
}
