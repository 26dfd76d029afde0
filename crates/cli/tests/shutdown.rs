//! A service manager's stop (SIGTERM) shuts `shoal server` down as Redis
//! does: with save rules configured, the dataset is saved first. SHUTDOWN
//! while the dataset loads ends the server at once, saving nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn request(stream: &mut TcpStream, args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(out.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `shoal server` with `args` and connects once it listens.
fn start(args: &[&str], port: u16) -> (std::process::Child, TcpStream) {
    let child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("server")
        .args(["--port", &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (child, stream)
}

#[test]
fn shutdown_while_loading_ends_at_once_and_saves_nothing() {
    let dir = std::env::temp_dir().join(format!("shoal-shutdown-loading-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();
    let (mut child, mut stream) = start(&["--save", "", "--dir", &dir_arg], free_port());
    assert_eq!(
        request(&mut stream, &["DEBUG", "POPULATE", "5000"]),
        "+OK\r\n"
    );
    assert_eq!(request(&mut stream, &["SAVE"]), "+OK\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
    let image = std::fs::read(dir.join("dump.rdb")).unwrap();
    // 5,000 keys at 1 ms: five seconds of loading, with save rules that
    // would save on the way out.
    let (mut child, mut stream) = start(
        &[
            "--save",
            "3600 1",
            "--dir",
            &dir_arg,
            "--key-load-delay",
            "1000",
        ],
        free_port(),
    );
    let started = Instant::now();
    while !request(&mut stream, &["INFO", "persistence"]).contains("\r\nloading:1\r\n") {
        assert!(started.elapsed() < Duration::from_secs(5), "never loading");
        std::thread::sleep(Duration::from_millis(10));
    }
    stream.write_all(b"*1\r\n$8\r\nSHUTDOWN\r\n").unwrap();
    let asked = Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "still running after SHUTDOWN"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exited.success(), "{exited:?}");
    assert_eq!(std::fs::read(dir.join("dump.rdb")).unwrap(), image);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_saves_the_dataset_when_save_rules_are_set() {
    let dir = std::env::temp_dir().join(format!("shoal-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();
    let (mut child, mut stream) = start(&["--save", "3600 1", "--dir", &dir_arg], free_port());
    assert_eq!(request(&mut stream, &["SET", "k", "v"]), "+OK\r\n");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = child.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    let report = shoal_server::check_rdb(&dir.join("dump.rdb")).unwrap();
    assert_eq!(report.keys, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
