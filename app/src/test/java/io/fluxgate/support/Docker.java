package io.fluxgate.support;

import java.nio.file.Files;
import java.nio.file.Path;

import org.testcontainers.DockerClientFactory;

/** Whether Testcontainers can start containers here. Asked once per JVM. */
public final class Docker {

    private static Boolean available;

    private Docker() {
    }

    public static synchronized boolean isAvailable() {
        if (available == null) {
            available = mightHaveDocker() && probe();
            System.out.println("[test services] Docker " + (available ? "available: using Testcontainers"
                    : "not available: using the local servers"));
        }
        return available;
    }

    /** Skips Testcontainers' noisy probe on machines with no Docker endpoint at all. */
    private static boolean mightHaveDocker() {
        return System.getenv("DOCKER_HOST") != null
                || Files.exists(Path.of("/var/run/docker.sock"))
                || Files.exists(Path.of(System.getProperty("user.home"), ".testcontainers.properties"));
    }

    private static boolean probe() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }
}
