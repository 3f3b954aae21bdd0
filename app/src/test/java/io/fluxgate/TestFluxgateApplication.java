package io.fluxgate;

import io.fluxgate.support.DevServices;

import org.springframework.boot.SpringApplication;

/**
 * README command 1: {@code ./mvnw -pl app spring-boot:test-run}. Runs the real application with the
 * dev profile and local services wired in from test scope, so none of this ships in the jar.
 */
public class TestFluxgateApplication {

    public static void main(String[] args) {
        SpringApplication.from(FluxgateApplication::main)
                .with(DevServices.class)
                .withAdditionalProfiles("dev")
                .run(args);
    }
}
