from qualiphone.cli import main

main()
