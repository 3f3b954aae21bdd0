package io.fluxgate.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A plain TCP forwarder in front of a real server, so a test can take that server "down" (stop:
 * close the port and every connection through it) and bring it back on the same port, without
 * touching the server other tests share.
 */
public final class TcpProxy implements AutoCloseable {

    private final int targetPort;
    private final int port;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile ServerSocket listener;

    private TcpProxy(int targetPort, int port) {
        this.targetPort = targetPort;
        this.port = port;
    }

    /** A proxy to {@code 127.0.0.1:targetPort}, listening on a free port. */
    public static TcpProxy to(int targetPort) {
        int free;
        try (ServerSocket probe = new ServerSocket(0)) {
            free = probe.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        TcpProxy proxy = new TcpProxy(targetPort, free);
        proxy.start();
        return proxy;
    }

    public int port() {
        return port;
    }

    public synchronized void start() {
        try {
            ServerSocket server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            listener = server;
            daemon("tcp-proxy-" + port, () -> accept(server));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Refuses new connections and cuts the open ones, like a server that died. */
    public synchronized void stop() {
        closeQuietly(listener);
        sockets.forEach(TcpProxy::closeQuietly);
        sockets.clear();
    }

    @Override
    public void close() {
        stop();
    }

    private void accept(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                sockets.add(client);
                sockets.add(upstream);
                pipe(client, upstream);
                pipe(upstream, client);
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void pipe(Socket from, Socket to) {
        daemon("tcp-proxy-pipe", () -> {
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                in.transferTo(out);
            } catch (IOException ended) {
                // either side went away
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        });
    }

    private static void daemon(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
    }

    private static void closeQuietly(java.io.Closeable closeable) {
        if (closeable != null) {
            try {
                closeable.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
