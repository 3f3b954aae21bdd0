package io.fluxgate.db;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration;

/**
 * Applies the Flyway migrations and exits: what the Kubernetes init container runs before the
 * service starts. It reads the same configuration as the service (application.yaml, FLUXGATE_DB_*),
 * starts nothing but Flyway, and exits non-zero when a migration fails.
 *
 * <pre>java -cp "BOOT-INF/classes:BOOT-INF/lib/*" io.fluxgate.db.MigrateCommand</pre>
 */
public final class MigrateCommand {

    private MigrateCommand() {
    }

    public static void main(String[] args) {
        // As a command-line argument, so it outranks SPRING_FLYWAY_ENABLED=false, which the service
        // itself runs with on Kubernetes: this command exists to run Flyway.
        String[] withFlyway = new String[args.length + 1];
        withFlyway[0] = "--spring.flyway.enabled=true";
        System.arraycopy(args, 0, withFlyway, 1, args.length);
        new SpringApplicationBuilder(FlywayAutoConfiguration.class)
                .web(WebApplicationType.NONE)
                .run(withFlyway)
                .close();
    }
}
