from dataspoc_lens.cli import main

main()
