package io.fluxgate;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.scheduling.annotation.EnableScheduling;

/** Fluxgate: REST over PostgreSQL, MongoDB and Redis, plus a live change stream. */
@SpringBootApplication
@ConfigurationPropertiesScan
@EnableScheduling
public class FluxgateApplication {

    public static void main(String[] args) {
        SpringApplication.run(FluxgateApplication.class, args);
    }
}
