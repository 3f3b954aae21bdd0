package io.fluxgate.security;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

import io.fluxgate.web.ProblemWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.security.authentication.ReactiveAuthenticationManager;
import org.springframework.security.config.annotation.web.reactive.EnableWebFluxSecurity;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.oauth2.core.DelegatingOAuth2TokenValidator;
import org.springframework.security.oauth2.jose.jws.MacAlgorithm;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.JwtValidators;
import org.springframework.security.oauth2.jwt.NimbusJwtEncoder;
import org.springframework.security.oauth2.jwt.NimbusReactiveJwtDecoder;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;
import org.springframework.security.oauth2.server.resource.InvalidBearerTokenException;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationConverter;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.security.oauth2.server.resource.authentication.JwtGrantedAuthoritiesConverter;
import org.springframework.security.oauth2.server.resource.authentication.JwtReactiveAuthenticationManager;
import org.springframework.security.oauth2.server.resource.authentication.ReactiveJwtAuthenticationConverterAdapter;
import org.springframework.security.oauth2.server.resource.web.server.authentication.ServerBearerTokenAuthenticationConverter;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.ServerAuthenticationEntryPoint;
import org.springframework.security.web.server.authentication.ServerAuthenticationConverter;
import org.springframework.security.web.server.authorization.ServerAccessDeniedHandler;
import org.springframework.security.web.server.context.NoOpServerSecurityContextRepository;
import org.springframework.security.web.server.firewall.ServerExchangeRejectedHandler;
import org.springframework.security.web.server.firewall.ServerWebExchangeFirewall;
import org.springframework.security.web.server.firewall.StrictServerWebExchangeFirewall;
import org.springframework.security.web.server.savedrequest.NoOpServerRequestCache;

/**
 * Stateless JWT security through Spring Security's resource-server support. Route rules live here,
 * in one place; ownership rules (self or admin) live in the services.
 */
@Configuration(proxyBeanMethods = false)
@EnableWebFluxSecurity
class SecurityConfiguration {

    private static final Logger log = LoggerFactory.getLogger(SecurityConfiguration.class);
    static final int MIN_SECRET_BYTES = 32;
    static final String WEBSOCKET_PATH = "/ws/changes";

    @Bean
    SecurityWebFilterChain securityWebFilterChain(ServerHttpSecurity http, ProblemWriter problems,
            ReactiveJwtDecoder jwtDecoder, TokenRevocation revocation) {
        ServerAuthenticationEntryPoint unauthenticated = (exchange, ex) -> {
            exchange.getResponse().getHeaders().set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
            return problems.write(exchange, HttpStatus.UNAUTHORIZED, "A valid bearer token is required", List.of());
        };
        ServerAccessDeniedHandler denied = (exchange, ex) ->
                problems.write(exchange, HttpStatus.FORBIDDEN, "You may not do this", List.of());
        return http
                .csrf(ServerHttpSecurity.CsrfSpec::disable)
                .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
                .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
                .logout(ServerHttpSecurity.LogoutSpec::disable)
                // Stateless: no session, no saved request. The default request cache creates a
                // WebSession on every 401 and finishes it off the event loop after the response.
                .securityContextRepository(NoOpServerSecurityContextRepository.getInstance())
                .requestCache(cache -> cache.requestCache(NoOpServerRequestCache.getInstance()))
                .authorizeExchange(routes -> routes
                        .pathMatchers(HttpMethod.POST, "/api/auth/register", "/api/auth/login").permitAll()
                        .pathMatchers("/actuator/health", "/actuator/health/**", "/actuator/info",
                                "/actuator/prometheus", "/health/**").permitAll()
                        .pathMatchers("/v3/api-docs", "/v3/api-docs/**", "/swagger-ui.html", "/swagger-ui/**",
                                "/webjars/**", "/console", "/console/**", "/client/fluxgate.js").permitAll()
                        .pathMatchers("/actuator/**").hasRole(TokenService.ADMIN)
                        .pathMatchers("/api/admin/**").hasRole(TokenService.ADMIN)
                        .pathMatchers(HttpMethod.POST, "/api/users/batch", "/api/accounts/*/deposit",
                                "/api/profiles/bulk").hasRole(TokenService.ADMIN)
                        .pathMatchers(HttpMethod.PUT, "/api/users/*/roles").hasRole(TokenService.ADMIN)
                        .anyExchange().authenticated())
                .oauth2ResourceServer(resourceServer -> resourceServer
                        .bearerTokenConverter(bearerTokens())
                        .jwt(jwt -> jwt.authenticationManager(verifiedAndNotRevoked(jwtDecoder, revocation)))
                        .authenticationEntryPoint(unauthenticated)
                        .accessDeniedHandler(denied))
                .exceptionHandling(handling -> handling
                        .authenticationEntryPoint(unauthenticated)
                        .accessDeniedHandler(denied))
                .build();
    }

    /**
     * Bearer tokens from the Authorization header everywhere, and from {@code ?access_token=} on the
     * WebSocket upgrade only: browsers cannot set headers there, and nowhere else should a token sit
     * in a URL (and so in access logs).
     */
    private static ServerAuthenticationConverter bearerTokens() {
        ServerBearerTokenAuthenticationConverter headerOnly = new ServerBearerTokenAuthenticationConverter();
        ServerBearerTokenAuthenticationConverter headerOrQuery = new ServerBearerTokenAuthenticationConverter();
        headerOrQuery.setAllowUriQueryParameter(true);
        return exchange -> WEBSOCKET_PATH.equals(exchange.getRequest().getPath().pathWithinApplication().value())
                ? headerOrQuery.convert(exchange)
                : headerOnly.convert(exchange);
    }

    /**
     * A token holds when its signature, issuer and expiry check out (Nimbus) and its user has not
     * been suspended, deleted or had a role or password changed since it was issued.
     */
    private static ReactiveAuthenticationManager verifiedAndNotRevoked(ReactiveJwtDecoder decoder,
            TokenRevocation revocation) {
        JwtReactiveAuthenticationManager verified = new JwtReactiveAuthenticationManager(decoder);
        verified.setJwtAuthenticationConverter(rolesFromClaim());
        return authentication -> verified.authenticate(authentication)
                .flatMap(token -> revocation.holds(Caller.fromToken((JwtAuthenticationToken) token))
                        .flatMap(holds -> holds ? Mono.just(token)
                                : Mono.error(new InvalidBearerTokenException("This token has been revoked"))));
    }

    /**
     * Spring Security's strict firewall, with its header rules (assigned, non-control characters;
     * values may also hold tabs) checked by a loop instead of a regular expression: they run for
     * every header a request's handling reads, and the regex was a measurable share of a cached
     * read's CPU.
     */
    @Bean
    ServerWebExchangeFirewall firewall() {
        StrictServerWebExchangeFirewall firewall = new StrictServerWebExchangeFirewall();
        firewall.setAllowedHeaderNames(name -> printable(name, false));
        firewall.setAllowedHeaderValues(value -> printable(value, true));
        return firewall;
    }

    static boolean printable(String text, boolean tabAllowed) {
        if (text == null) {
            return true; // an absent header, as the library's rules treat it
        }
        for (int i = 0; i < text.length(); ) {
            int codePoint = text.codePointAt(i);
            boolean allowedControl = tabAllowed && codePoint == '\t';
            if ((Character.isISOControl(codePoint) && !allowedControl) || !Character.isDefined(codePoint)) {
                return false;
            }
            i += Character.charCount(codePoint);
        }
        return true;
    }

    /** Requests the firewall refuses (encoded slashes, NUL, path parameters) get a problem body too. */
    @Bean
    ServerExchangeRejectedHandler rejectedExchanges(ProblemWriter problems) {
        return (exchange, rejected) -> problems.write(exchange, HttpStatus.BAD_REQUEST,
                "The request was rejected: malformed or disallowed characters in the URL", List.of());
    }

    /** {@code roles: ["USER", "ADMIN"]} becomes ROLE_USER and ROLE_ADMIN. */
    private static ReactiveJwtAuthenticationConverterAdapter rolesFromClaim() {
        JwtGrantedAuthoritiesConverter authorities = new JwtGrantedAuthoritiesConverter();
        authorities.setAuthoritiesClaimName(TokenService.ROLES_CLAIM);
        authorities.setAuthorityPrefix("ROLE_");
        JwtAuthenticationConverter converter = new JwtAuthenticationConverter();
        converter.setJwtGrantedAuthoritiesConverter(authorities);
        return new ReactiveJwtAuthenticationConverterAdapter(converter);
    }

    /**
     * The HS256 key. Outside the dev profile a missing, short or placeholder secret stops start-up: a
     * guessable key would let anyone mint admin tokens.
     */
    @Bean
    SecretKey jwtSigningKey(SecurityProperties properties, Environment environment) {
        byte[] secret = properties.jwtSecret().getBytes(StandardCharsets.UTF_8);
        String problem = secret.length < MIN_SECRET_BYTES
                ? "must be set to at least " + MIN_SECRET_BYTES + " bytes; it is " + secret.length + " bytes"
                : Placeholders.looksLikePlaceholder(properties.jwtSecret()) ? "is an example or placeholder value" : null;
        if (problem != null) {
            if (!Placeholders.isDevProfile(environment)) {
                throw new IllegalStateException("fluxgate.security.jwt-secret (environment FLUXGATE_SECURITY_JWT_SECRET) "
                        + problem + ". Generate one with: openssl rand -base64 48");
            }
            log.warn("No usable JWT secret configured: using a random one for this dev run; "
                    + "tokens will not survive a restart");
            secret = new byte[MIN_SECRET_BYTES];
            new SecureRandom().nextBytes(secret);
        }
        return new SecretKeySpec(secret, "HmacSHA256");
    }

    /**
     * Nimbus verifies the signature, issuer and times, {@link TokenClaims} the type and range of every
     * claim we read; tokens it accepted are remembered until they expire (see VerifiedTokens).
     */
    @Bean
    ReactiveJwtDecoder jwtDecoder(SecretKey jwtSigningKey, SecurityProperties properties) {
        NimbusReactiveJwtDecoder decoder = NimbusReactiveJwtDecoder.withSecretKey(jwtSigningKey)
                .macAlgorithm(MacAlgorithm.HS256)
                .build();
        decoder.setJwtValidator(new DelegatingOAuth2TokenValidator<>(
                JwtValidators.createDefaultWithIssuer(properties.issuer()), new TokenClaims()));
        return new VerifiedTokens(decoder, properties.verifiedTokens());
    }

    @Bean
    JwtEncoder jwtEncoder(SecretKey jwtSigningKey) {
        return NimbusJwtEncoder.withSecretKey(jwtSigningKey).algorithm(MacAlgorithm.HS256).build();
    }
}
