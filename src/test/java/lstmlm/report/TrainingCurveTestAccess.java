package lstmlm.report;

import java.awt.image.BufferedImage;

/** Lets the command-line tests count a run's pixels without widening the chart's palette beyond its package. */
public final class TrainingCurveTestAccess {
    private TrainingCurveTestAccess() {}

    public static long pixelsOfRun(BufferedImage image, int run) {
        return TrainingCurveTest.pixelsOf(image, TrainingCurve.RUN_COLOURS[run]);
    }
}
