"""Demand sets (DESIGN §4.9): weighted points imported into a named set, replaced whole."""

import pytest
from sqlalchemy import text

from app.importing import ImportFileError, ImportOptions, import_file
from app.queries import tokens
from app.services import tokens as auth


def write(path, body):
    path.write_text(body)
    return path


def demand(name):
    return ImportOptions(dataset="demand", demand_set=name)


def points(connection, name):
    """(lon, lat, weight, label) of a set's points, in file order."""
    return connection.execute(
        text(
            "SELECT ST_X(p.geom), ST_Y(p.geom), p.weight, p.label FROM demand_points p"
            " JOIN demand_sets s ON s.id = p.set_id WHERE s.name = :name ORDER BY p.id"
        ),
        {"name": name},
    ).all()


FIRST = "lat,lon,weight,label\n38.9,-77.03,2.5,order 1\n38.91,-77.04,1,\n-16.5,179.99,3,Fiji\n"


def test_a_demand_file_becomes_its_set_and_a_second_import_replaces_it(connection, tmp_path):
    report = import_file(connection, write(tmp_path / "d.csv", FIRST), demand("orders"))
    assert (report.dataset, report.created, report.rejected) == ("demand", 3, [])
    assert points(connection, "orders") == [
        (-77.03, 38.9, 2.5, "order 1"),
        (-77.04, 38.91, 1.0, None),
        (179.99, -16.5, 3.0, "Fiji"),
    ]
    import_file(connection, write(tmp_path / "o.csv", "lat,lon,weight\n1,2,5\n"), demand("other"))

    second = write(tmp_path / "d2.csv", "lat,lon,weight\n40,-75,7\n")
    report = import_file(connection, second, demand("orders"))
    assert (report.created, report.replaced) == (1, 3)
    assert "replaced 3 previous points" in report.summary()
    assert points(connection, "orders") == [(-75.0, 40.0, 7.0, None)]
    assert points(connection, "other") == [(2.0, 1.0, 5.0, None)]  # untouched


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ("91,-77,1", "lat"),
        ("38.9,-180.5,1", "lon"),
        ("NaN,-77,1", "lat"),
        ("38.9,-77,0", "weight"),
        ("38.9,-77,-2", "weight"),
        ("38.9,-77,inf", "weight"),
        ("38.9,-77,1_0", "weight"),
        ("38.9,-77,", "weight"),
    ],
)
def test_a_bad_point_in_the_middle_writes_nothing_and_is_named(connection, tmp_path, cells, field):
    import_file(connection, write(tmp_path / "d.csv", FIRST), demand("orders"))
    body = f"lat,lon,weight\n38.9,-77,1\n{cells}\n38.8,-77,1\n"
    report = import_file(connection, write(tmp_path / "bad.csv", body), demand("orders"))
    assert not report.applied
    assert [(r.row, r.field) for r in report.rejected] == [(3, field)]
    assert len(points(connection, "orders")) == 3  # the old set stands whole


def test_a_label_over_200_characters_is_rejected(connection, tmp_path):
    body = f"lat,lon,weight,label\n38.9,-77,1,{'x' * 201}\n"
    report = import_file(connection, write(tmp_path / "d.csv", body), demand("orders"))
    assert [(r.row, r.field) for r in report.rejected] == [(2, "label")]


@pytest.mark.parametrize("name", [None, "", "has space", "x" * 65, "a/b"])
def test_a_demand_file_needs_a_valid_set_name(connection, tmp_path, name):
    path = write(tmp_path / "d.csv", FIRST)
    with pytest.raises(ImportFileError, match="demand set"):
        import_file(connection, path, demand(name))


def test_the_cli_imports_a_demand_set(runner, connection, tmp_path):
    path = write(tmp_path / "d.csv", FIRST)
    result = runner.invoke(
        args=["locator", "import", str(path), "--dataset", "demand", "--demand-set", "cli-set"]
    )
    assert result.exit_code == 0, result.output
    assert len(points(connection, "cli-set")) == 3
    missing = runner.invoke(args=["locator", "import", str(path), "--dataset", "demand"])
    assert missing.exit_code != 0 and "--demand-set" in missing.output


def test_the_admin_api_imports_a_demand_set(client, connection):
    value = auth.new_token()
    tokens.create_token(connection, "demand-admin", auth.hash_token(value), list(auth.SCOPES))
    connection.commit()
    headers = {"Authorization": f"Bearer {value}"}
    url = "/api/v1/imports?filename=d.csv&dataset=demand&demand_set=api-set"
    response = client.post(url, data=FIRST.encode(), headers=headers)
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["demand_set"]) == (3, "api-set")
    assert len(points(connection, "api-set")) == 3
    bad_name = url.replace("api-set", "bad%20name")
    response = client.post(bad_name, data=FIRST.encode(), headers=headers)
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "demand_set"


def test_re_importing_the_same_points_changes_nothing(connection, tmp_path):
    import_file(connection, write(tmp_path / "d.csv", FIRST), demand("orders"))
    before = connection.execute(text("SELECT min(id), max(id) FROM demand_points")).one()
    shuffled = (
        "lat,lon,weight,label\n-16.5,179.99,3,Fiji\n38.9,-77.03,2.5,order 1\n38.91,-77.04,1,\n"
    )
    report = import_file(connection, write(tmp_path / "s.csv", shuffled), demand("orders"))
    assert (report.created, report.updated, report.unchanged, report.replaced) == (0, 0, 3, 0)
    assert connection.execute(text("SELECT min(id), max(id) FROM demand_points")).one() == before
