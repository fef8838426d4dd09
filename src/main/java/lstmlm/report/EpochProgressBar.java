package lstmlm.report;

import lstmlm.train.TrainingListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;

/**
 * A bar per epoch on a terminal: step of epoch size, elapsed and ETA, words per second, current
 * perplexity. Only for terminals: it redraws its line with carriage returns, which a log file
 * should never see.
 */
public final class EpochProgressBar implements TrainingListener, AutoCloseable {
    private final PrintStream terminal;
    private ProgressBar bar;
    private int barEpoch;

    public EpochProgressBar(PrintStream terminal) {
        this.terminal = terminal;
    }

    /** Whether standard output is a terminal someone watches (not a pipe, a file or CI's log). */
    public static boolean stdoutIsTerminal() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    @Override
    public void onStep(Step s) {
        if (bar == null || barEpoch != s.epoch()) {
            close();
            // a resumed run starts mid-epoch: the bar starts there too, and its ETA counts only this process's pace
            bar = new ProgressBarBuilder().setTaskName("Epoch " + s.epoch()).setInitialMax(s.epochSize())
                    .startsFrom(s.step() - 1, Duration.ZERO).setStyle(ProgressBarStyle.UNICODE_BLOCK)
                    .setUpdateIntervalMillis(250).setConsumer(new ConsoleProgressBarConsumer(terminal)).build();
            barEpoch = s.epoch();
        }
        bar.setExtraMessage(String.format(Locale.ROOT, "ppl %.1f  %,.0f wps", s.perplexity(), s.wordsPerSecond()));
        bar.stepTo(s.step());
        // the epoch's training pass is over: leave the full bar on screen before valid's lines
        if (s.step() == s.epochSize()) close();
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    /**
     * A stream for the lines printed while the bar is drawn: each whole line is written at once,
     * after a carriage return and erase-line, so it replaces the bar's line and the bar redraws
     * below it instead of the two running into one.
     */
    public static PrintStream linesAboveBar(PrintStream terminal) {
        OutputStream lines = new OutputStream() {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public synchronized void write(int b) {
                line.write(b);
                if (b == '\n') emit();
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                for (int i = off; i < off + len; i++) write(b[i]);
            }

            private void emit() {
                byte[] erase = "\r\033[K".getBytes(StandardCharsets.US_ASCII);
                byte[] text = line.toByteArray();
                byte[] all = new byte[erase.length + text.length];
                System.arraycopy(erase, 0, all, 0, erase.length);
                System.arraycopy(text, 0, all, erase.length, text.length);
                terminal.write(all, 0, all.length);
                terminal.flush();
                line.reset();
            }

            @Override
            public synchronized void flush() {
                // a partial line waits for its end: written now it would be overdrawn by the bar
            }

            @Override
            public synchronized void close() throws IOException {
                if (line.size() > 0) emit();
            }
        };
        return new PrintStream(lines, true, StandardCharsets.UTF_8);
    }
}
